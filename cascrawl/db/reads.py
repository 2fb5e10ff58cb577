"""Read queries for operators and downstream readers: the inspection CLI and the HTTP API.

Read-only: nothing here writes. `Database(url, read_only=True)` (or `database.reader()`) goes further:
an engine whose every connection refuses writes (SQLite `PRAGMA query_only`, PostgreSQL read-only
transactions), which is what `cascrawl serve` reads through. Every function takes the `Database` first.

Paging follows the export order, `(updated_at, id)`. A `Cursor` is a position in that order; the
next page is everything strictly after it. `updated_at` moves only when what the export contract
carries changes (content or metadata), and new or changed articles get the time of their upsert, so they land after every cursor
handed out before: a reader paging while a crawl writes sees each article once, and an article
revised meanwhile once more, at the end, with its new content.

Withdrawn articles (`withdrawn_at` set: the page was gone on two checks in a row) are left out of every
default listing, the sections' counts, the archive by month and search (`listed()`, which a new reader such
as a feed applies through `ArticleFilter`); the change cursor (`ArticleFilter(tombstones=True)`) returns them
in their place in the order, where a reader turns them into tombstones. Their withdrawal moved `updated_at`,
and so does their return.

The body fragment (`Article.html`) is served through `served_html`: sanitized on read as well, whatever
version of cascrawl stored it.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, literal, or_, select, tuple_
from sqlalchemy.orm import Session, defer

from cascrawl.db import frontier, runs as run_rows
from cascrawl.db.database import Database
from cascrawl.db.lock import run_lock_held
from cascrawl.db.engine import in_chunks
from cascrawl.db.models import Article, ArticleMedia, ArticleRevision, AwareDateTime, CrawlRun, Refetch, Reject
from cascrawl.db.search import search_conditions
from cascrawl.sanitize import sanitize_html

_CURSOR_VERSION = 1


# --- cursors ---

@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the (updated_at, id) order of articles (or the (started_at, id) order of runs: /runs
    pages with the same scheme); opaque to clients (base64url of a small JSON)."""

    updated_at: datetime  # aware
    id: int

    @classmethod
    def after(cls, article: Article) -> Cursor:
        return cls(article.updated_at, article.id)

    def encode(self) -> str:
        moment = self.updated_at.astimezone(timezone.utc).isoformat(timespec="microseconds")
        raw = json.dumps({"v": _CURSOR_VERSION, "u": moment, "i": self.id}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor `encode` made; ValueError with a message for a client otherwise."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(raw)
            if data.get("v") != _CURSOR_VERSION:
                raise ValueError
            moment = datetime.fromisoformat(data["u"])
            identifier = data["i"]
            if moment.tzinfo is None or not isinstance(identifier, int) or isinstance(identifier, bool):
                raise ValueError
        except (ValueError, TypeError, KeyError, AttributeError, binascii.Error, UnicodeDecodeError):
            raise ValueError("not a cursor this service handed out (use the `next` value of a previous page "
                             "or the cursor `cascrawl export` printed)") from None
        return cls(moment.astimezone(timezone.utc), identifier)


# --- articles ---

def listed():
    """The condition of every default listing: the article is not withdrawn."""
    return Article.withdrawn_at.is_(None)


def is_withdrawn(article: Article) -> bool:
    return article.withdrawn_at is not None


def served_html(article: Article) -> str | None:
    """The article's body fragment as it may be served: through the allow-list sanitizer (the rows stored
    before it are sanitized by migration 0014; this holds for any row, whoever wrote it)."""
    return sanitize_html(article.html)


@dataclass(frozen=True)
class ArticleFilter:
    """Which articles: all conditions must hold. `since` and `until` bound `updated_at`. Withdrawn articles
    only with `tombstones` (the change cursor: a reader shows them as tombstones)."""

    sections: tuple[str, ...] = ()
    since: datetime | None = None  # updated_at >= since
    until: datetime | None = None  # updated_at < until
    q: str | None = None  # every whitespace-separated term in the title or the text
    tombstones: bool = False  # withdrawn articles too, in their place in the order

    def conditions(self, session: Session) -> list:
        found = [] if self.tombstones else [listed()]
        if self.sections:
            found.append(Article.section.in_(self.sections))
        if self.since is not None:
            found.append(Article.updated_at >= self.since)
        if self.until is not None:
            found.append(Article.updated_at < self.until)
        if self.q:
            found.extend(search_conditions(session, self.q))
        return found


@dataclass
class ArticlePage:
    articles: list[ListedArticle]
    has_more: bool  # more articles matched after the last one, when the page was read
    cursor: Cursor | None  # after the last article of the page (the one passed in when the page is empty)


class ListedArticle(SimpleNamespace):
    """An article as a listing reads it: the columns of `articles` by name, all but the page's HTML and
    `provenance` (get_article has them; touching them here raises AttributeError), and `media`, its files of
    the media archive. Read as plain rows, not ORM objects: building and tracking mapped objects, and a
    second relationship load, took two thirds of a page's time (scripts/bench_api.py)."""


# Every column of articles but the two only an article's own page needs (a column added later comes along).
_LISTED = tuple(column for column in Article.__table__.columns if column.key not in ("html", "provenance"))
_MEDIA = tuple(ArticleMedia.__table__.columns)


def list_articles(database: Database, filters: ArticleFilter = ArticleFilter(), after: Cursor | None = None,
                  limit: int = 50, newest_first: bool = False) -> ArticlePage:
    """One page of articles (ListedArticle) in (updated_at, id) order, strictly after `after` (before it when
    newest_first)."""
    order = (Article.updated_at, Article.id)
    with Session(database.engine) as session:
        query = select(*_LISTED).where(*filters.conditions(session))
        if after is not None:
            position = tuple_(*order)
            bound = tuple_(_moment(after.updated_at), after.id)
            query = query.where(position < bound if newest_first else position > bound)
        query = query.order_by(*(c.desc() for c in order) if newest_first else order).limit(limit + 1)
        connection = session.connection()  # Core execution: rows, not ORM results
        rows = connection.execute(query).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        media = _media_of(connection, [row.url for row in rows])
    articles = [ListedArticle(**row._mapping, media=media.get(row.url, [])) for row in rows]
    return ArticlePage(articles, has_more, Cursor.after(articles[-1]) if articles else after)


def _media_of(connection, urls: list[str]) -> dict[str, list]:
    """The media archive's files of these articles by article URL, in Article.media's order (id)."""
    found: dict[str, list] = {}
    for chunk in in_chunks(urls):
        query = select(*_MEDIA).where(ArticleMedia.article_url.in_(chunk)).order_by(ArticleMedia.id)
        for row in connection.execute(query):
            found.setdefault(row.article_url, []).append(row)
    return found


def iter_articles(database: Database, after: Cursor | None = None, batch: int = 500,
                  filters: ArticleFilter = ArticleFilter()) -> Iterator[ListedArticle]:
    """Every article (of `filters`) after `after`, oldest change first, read in keyset batches (no long-lived
    cursor)."""
    while True:
        page = list_articles(database, filters, after=after, limit=batch)
        yield from page.articles
        if not page.has_more:
            return
        after = page.cursor


def count_articles(database: Database, filters: ArticleFilter = ArticleFilter(), after: Cursor | None = None) -> int:
    with Session(database.engine) as session:
        query = select(func.count()).select_from(Article).where(*filters.conditions(session))
        if after is not None:
            query = query.where(tuple_(Article.updated_at, Article.id) > tuple_(_moment(after.updated_at), after.id))
        return session.scalar(query) or 0


def get_article(database: Database, article_id: int | None = None, url: str | None = None) -> Article | None:
    """By id, or by URL (the canonical one, else the URL it was fetched from)."""
    with Session(database.engine) as session:
        if article_id is not None:
            return session.get(Article, article_id)
        if url:
            for by in (Article.url, Article.fetched_url):
                found = session.scalars(select(Article).where(by == url).order_by(Article.id).limit(1)).first()
                if found is not None:
                    return found
        return None


def article_revisions(database: Database, article_id: int) -> list[ArticleRevision]:
    """The previous versions of an article, newest first."""
    with Session(database.engine) as session:
        query = (select(ArticleRevision).options(defer(ArticleRevision.html, raiseload=True))
                 .where(ArticleRevision.article_id == article_id).order_by(ArticleRevision.revision.desc()))
        return list(session.scalars(query))


# --- feeds ---

def feed_articles(database: Database, filters: ArticleFilter = ArticleFilter(), skip: int = 0,
                  limit: int = 50) -> list[Article]:
    """Articles newest change first, in (updated_at, id) descending order, after skipping the `skip` newest;
    with their HTML (a feed carries the full text). The order cascrawl/feeds pages its documents in: an
    article found late (back-dated) or edited comes to the top, where a reader of the current feed sees it."""
    with Session(database.engine) as session:
        query = (select(Article).where(*filters.conditions(session))
                 .order_by(Article.updated_at.desc(), Article.id.desc()).offset(skip).limit(limit))
        return list(session.scalars(query))


def latest_change(database: Database, filters: ArticleFilter) -> datetime | None:
    """The latest `updated_at` of the articles of `filters` (with tombstones: a withdrawal is a change too)."""
    with Session(database.engine) as session:
        return _aware(session.scalar(select(func.max(Article.updated_at)).where(*filters.conditions(session))))


def article_sections(database: Database) -> list[str]:
    """The sections that hold articles, sorted."""
    with Session(database.engine) as session:
        return list(session.scalars(select(Article.section).distinct().order_by(Article.section)))


# --- runs and rejects ---

def _columns(row: Any, model) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in model.__table__.columns}


def as_they_are(database: Database, runs: list[dict[str, Any]], workers: dict[int, list] | None = None) -> list[dict[str, Any]]:
    """Runs as they are now, not as last written: a `running` run whose heartbeat is stale while nobody holds
    the run lock died without closing (SIGKILL, power cut) and is shown `interrupted` at once, as the next
    run will record it; a run not closed shows its heartbeat's counts in its stats (cascrawl/db/runs.py).
    A distributed run (`workers`: {run id: its workers' rows}) gets `workers`, each as it is now (a silent
    one `interrupted`), and while not closed the sum of their counts so far."""
    if any(run_rows.heartbeat_stale(run) for run in runs) and not _lock_held(database):
        runs = [run_rows.as_interrupted(run) if run_rows.heartbeat_stale(run) else run for run in runs]
    found = []
    for run in runs:
        rows = (workers or {}).get(run["id"])
        if rows:
            rows = run_rows.workers_as_they_are(rows)
            run = {**run, "workers": rows}
            if run.get("status") in ("running", "interrupted"):
                run["live"] = {**(run.get("live") or {}), **run_rows.summed_counts(rows)}
        found.append(run_rows.with_live_counts(run))
    return found


def _lock_held(database: Database) -> bool:
    """Whether a crawl holds the run lock; a lock that cannot be asked about counts as held (a run stays
    `running` rather than be called dead on no evidence)."""
    try:
        return run_lock_held(database)
    except Exception:
        return True


def list_runs(database: Database, limit: int = 20, before: Cursor | None = None) -> list[dict[str, Any]]:
    """The newest runs first (started_at, id descending), strictly after the position `before` (a Cursor of
    a run's started_at and id) in that order when given, each with every column of crawl_runs and `rejects`
    (rows recorded for it), as they are now (`as_they_are`)."""
    with Session(database.engine) as session:
        query = select(CrawlRun)
        if before is not None:
            query = query.where(tuple_(CrawlRun.started_at, CrawlRun.id) < tuple_(_moment(before.updated_at), before.id))
        runs = session.scalars(query.order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(limit))
        found = [_columns(run, CrawlRun) for run in runs]
        counts = _reject_counts(session, [run["id"] for run in found])
    for run in found:
        run["rejects"] = sum(counts.get(run["id"], {}).values())
    return as_they_are(database, found, run_rows.workers_of(database, [run["id"] for run in found]))


def get_run(database: Database, run_id: int | None = None) -> dict[str, Any] | None:
    """One run (the newest when run_id is None) with `rejects_by_reason` ({code: count}), as it is now."""
    with Session(database.engine) as session:
        if run_id is None:
            run = session.scalars(select(CrawlRun).order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
                                  .limit(1)).first()
        else:
            run = session.get(CrawlRun, run_id)
        if run is None:
            return None
        found = _columns(run, CrawlRun)
        by_reason = _reject_counts(session, [run.id]).get(run.id, {})
    found["rejects_by_reason"] = dict(sorted(by_reason.items()))
    found["rejects"] = sum(by_reason.values())
    return as_they_are(database, [found], run_rows.workers_of(database, [found["id"]]))[0]


def _reject_counts(session: Session, run_ids: list[int]) -> dict[int, dict[str, int]]:
    if not run_ids:
        return {}
    query = (select(Reject.run_id, Reject.reason, func.count()).where(Reject.run_id.in_(run_ids))
             .group_by(Reject.run_id, Reject.reason))
    counts: dict[int, dict[str, int]] = {}
    for run_id, reason, count in session.execute(query):
        counts.setdefault(run_id, {})[reason] = count
    return counts


def list_rejects(database: Database, run_id: int | None = None, reason: str | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:
    """Recorded rejects, newest first, each with `next_try_at`: when its page is tried again (None: it
    was stored since, or is no longer scheduled)."""
    with Session(database.engine) as session:
        query = select(Reject, Refetch.next_try_at).outerjoin(
            Refetch, or_(Refetch.fetched_url == Reject.url, Refetch.url == Reject.url))
        if run_id is not None:
            query = query.where(Reject.run_id == run_id)
        if reason:
            query = query.where(Reject.reason == reason)
        query = query.order_by(Reject.seen_at.desc(), Reject.id.desc()).limit(limit)
        return [{**_columns(row, Reject), "next_try_at": _aware(next_try)} for row, next_try in session.execute(query)]


# --- overview ---

@dataclass
class SectionStats:
    section: str
    articles: int = 0
    newest_published: Any = None  # date of the newest article
    last_updated_at: datetime | None = None  # the latest content change in the section
    last_run: dict[str, Any] | None = field(default=None)  # id, status, started_at, finished_at
    listing_complete_at: datetime | None = None  # the end of the last complete walk of its listing
    incomplete: str | None = None  # why the latest walk is not complete, in words (None: complete)


def section_stats(database: Database, runs_scanned: int = 1000) -> list[SectionStats]:
    """Per section: article count, newest article, latest change, and the newest run that crawled it.

    Sections come from the articles and from the sections of the last `runs_scanned` runs (so a
    section crawled with no article yet shows up with 0).
    """
    found: dict[str, SectionStats] = {}
    with Session(database.engine) as session:
        query = (select(Article.section, func.count(), func.max(Article.published_date), func.max(Article.updated_at))
                 .where(listed()).group_by(Article.section))
        for section, count, newest, updated in session.execute(query):
            found[section] = SectionStats(section, count, newest, _aware(updated))
        runs = [row._asdict() for row in session.execute(
            select(CrawlRun.id, CrawlRun.status, CrawlRun.started_at, CrawlRun.finished_at, CrawlRun.sections,
                   CrawlRun.heartbeat_at, CrawlRun.live)
            .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(runs_scanned))]
        for run in as_they_are(database, runs):
            for section in run["sections"] or []:
                stats = found.setdefault(section, SectionStats(section))
                if stats.last_run is None:
                    stats.last_run = {"id": run["id"], "status": run["status"], "started_at": run["started_at"],
                                      "finished_at": run["finished_at"]}
    walks = frontier.walk_states(database)
    statuses = _walk_run_statuses(database, walks)
    for walk in walks:
        stats = found.setdefault(walk.section, SectionStats(walk.section))
        stats.listing_complete_at = _aware(walk.completed_at)
        stats.incomplete = frontier.incomplete_line(walk, statuses.get(walk.walk_run_id))
    return sorted(found.values(), key=lambda stats: (-stats.articles, stats.section))


def stored_sections(database: Database) -> list[str]:
    """The sections that hold at least one article, sorted."""
    with Session(database.engine) as session:
        return list(session.scalars(select(Article.section).distinct().order_by(Article.section)))


def incomplete_sections(database: Database, sections: list[str]) -> dict[str, str]:
    """The sections (of these) whose latest walk did not complete, with what is left, in words."""
    walks = [walk for walk in frontier.walk_states(database) if walk.section in sections]
    statuses = _walk_run_statuses(database, walks)
    lines = {walk.section: frontier.incomplete_line(walk, statuses.get(walk.walk_run_id)) for walk in walks}
    return {section: lines[section] for section in sections if lines.get(section)}


def _walk_run_statuses(database: Database, walks: list) -> dict[int, str]:
    """The status of each run that walked these sections last, as it is now (a dead one `interrupted`)."""
    ids = sorted({walk.walk_run_id for walk in walks if walk.walk_run_id is not None and not walk.walk_complete})
    if not ids:
        return {}
    with Session(database.engine) as session:
        runs = [row._asdict() for row in session.execute(
            select(CrawlRun.id, CrawlRun.status, CrawlRun.started_at, CrawlRun.heartbeat_at, CrawlRun.live)
            .where(CrawlRun.id.in_(ids)))]
    return {run["id"]: run["status"] for run in as_they_are(database, runs)}


def articles_per_month(database: Database) -> list[tuple[int, int, str, int]]:
    """(year, month, section, articles) by month of publication: what the archive holds, month by month."""
    year = func.extract("year", Article.published_date)
    month = func.extract("month", Article.published_date)
    query = (select(year, month, Article.section, func.count()).where(listed()).group_by(year, month, Article.section)
             .order_by(year, month, Article.section))
    with Session(database.engine) as session:
        return [(int(y), int(m), section, count) for y, m, section, count in session.execute(query)]


def totals(database: Database) -> dict[str, int]:
    with Session(database.engine) as session:
        return {name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("articles", Article), ("revisions", ArticleRevision),
                                    ("runs", CrawlRun), ("rejects", Reject))}


class ChangeCounter:
    """Whether a SQLite database may have changed, cheaply: `current()` is a number that stays the same for as
    long as nobody has committed to the file, and grows at the first call after a commit (so an answer kept
    under one number is the database's answer while the number holds).

    SQLite's `PRAGMA data_version` changes, on a connection, when another connection committed since that
    connection last asked; each pooled connection keeps the value it saw (in its pool record), and a
    connection asked for the first time counts as a change. PostgreSQL has no such cheap sign: `current()` is
    None there, and callers keep nothing."""

    _SEEN = "cascrawl_data_version"

    def __init__(self, database: Database):
        self.database = database
        self.enabled = database.engine.dialect.name == "sqlite"
        self.number = 0
        self._lock = threading.Lock()

    def current(self) -> int | None:
        if not self.enabled:
            return None
        with self.database.engine.connect() as connection:
            version = connection.exec_driver_sql("PRAGMA data_version").scalar()
            seen = connection.connection.info  # the pooled DBAPI connection's own record: kept across checkouts
            with self._lock:
                if seen.get(self._SEEN) != version:
                    seen[self._SEEN] = version
                    self.number += 1
                return self.number


def ping(database: Database) -> None:
    """Raises (SQLAlchemyError) unless the database answers."""
    with database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def _moment(value: datetime):
    """A cursor's time as a bound parameter typed like updated_at (UTC on SQLite, timestamptz on PostgreSQL)."""
    return literal(value, AwareDateTime())


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates (max) bypass the column type: SQLite returns a string or a naive UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
