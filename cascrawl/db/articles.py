"""Storing articles: the upsert engine (insert, revise with an archived copy, refresh, or only see again),
by canonical URL, a batch per transaction; a row the database refuses is recorded in `rejects`. Withdrawn
articles: a stored article whose page is gone on two checks in a row is marked withdrawn, and restored by
the upsert when the page comes back."""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import literal, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cascrawl.db.engine import Connected, in_chunks, row_error
from cascrawl.db.models import Article, ArticleRevision, AwareDateTime, Refetch
from cascrawl.db.runs import add_rejects


logger = logging.getLogger(__name__)

# What an article row is made of, besides its identity (id, url) and its timestamps.
_CONTENT_COLUMNS = (
    "fetched_url", "docid", "section", "title", "published_date", "published_at", "source", "author", "editor",
    "text", "html", "attachments", "images", "videos", "content_hash", "script", "template", "provenance",
)
# HTTP validators of the last fetch: kept current on the row, not archived with revisions.
_VALIDATOR_COLUMNS = ("etag", "last_modified")
# The WARC record of the response the version came from (cascrawl/archive/): archived with revisions; never
# what tells a revision, a refresh and an unchanged row apart. A row seen again points at its newer record;
# a fetch without one (archive off, a gap) leaves the stored one, unless the content changed.
RECORD_COLUMNS = ("warc_file", "warc_offset", "warc_record_id")
# Compared one by one to tell a refresh from an unchanged row; title and text are covered by content_hash.
_COMPARED_COLUMNS = tuple(column for column in _CONTENT_COLUMNS if column not in ("title", "text")) + _VALIDATOR_COLUMNS
# What the export contract (docs/export.md) carries besides url, title and text (content_hash) and the timestamps:
# a change to one of these alone moves updated_at, so that a downstream client following the change cursor sees it.
CONTRACT_METADATA_COLUMNS = (
    "section", "published_date", "published_at", "source", "author", "editor", "attachments", "images", "videos",
)
# Copied into article_revisions when the content changes.
_ARCHIVED_COLUMNS = ("url", *_CONTENT_COLUMNS, "updated_at", "last_seen_at", *RECORD_COLUMNS)
# The answers that say a page is gone (a reject reason of the validate pipeline); 5xx, timeouts and DNS failures
# say nothing about the page, and never withdraw an article.
GONE_REASONS = ("http_404", "http_410")


@dataclass
class UpsertResult:
    """What one upsert did, row by row."""

    inserted: int = 0  # new articles
    revised: int = 0  # content changed: revision + 1, the previous version archived
    refreshed: int = 0  # same content, other fields changed (editor, images, fetched_url, html, …): updated in place
    unchanged: int = 0  # only last_seen_at moved
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (url, reason code, detail)
    restored: int = 0  # of the revised and refreshed: withdrawn articles whose page is back (withdrawn_at cleared)
    # Set by the batch's writer from withdraw_gone (cascrawl/run/writes.py), not by the upsert:
    withdrawn: int = 0  # stored articles whose page was gone twice in a row: withdrawn
    gone_once: int = 0  # stored articles whose page was gone for the first time: withdrawn if the next check agrees

    @property
    def stored(self) -> int:
        return self.inserted + self.revised + self.refreshed + self.unchanged

    def add(self, other: UpsertResult) -> None:
        self.inserted += other.inserted
        self.revised += other.revised
        self.refreshed += other.refreshed
        self.unchanged += other.unchanged
        self.rejected.extend(other.rejected)
        self.restored += other.restored
        self.withdrawn += other.withdrawn
        self.gone_once += other.gone_once


def upsert_articles(database: Connected, rows: Iterable[dict[str, Any]], seen_at: datetime | None = None,
                    run_id: int | None = None, seen: bool = True) -> UpsertResult:
    """Store a batch of articles by canonical url, in one transaction.

    New url: inserted (revision 1). Same content_hash: the row keeps its revision; other changed fields
    are refreshed in place, and updated_at moves when one of them is in the export contract (source,
    author, editor, images, …); last_seen_at always moves. Different content_hash: the stored version
    is copied to article_revisions, then replaced; revision + 1, updated_at moves. A withdrawn article
    stored again is restored: withdrawn_at cleared, updated_at moved (the change cursor tells readers).
    A row the database refuses (constraint, bad value) is retried alone, recorded in `rejects`
    (with run_id) and left out; the rest of the batch is stored.
    `seen=False` (a re-extraction from the archive, cascrawl/reparse/): the site was not asked, so
    last_seen_at stays where the last crawl left it; the rest is the same (seen_at dates the change).
    """
    seen_at = seen_at or datetime.now(timezone.utc)
    by_url = {row.get("url"): row for row in rows}  # the last one wins within a batch
    values = [_article_values(row) for row in by_url.values()]
    if not values:
        return UpsertResult()
    try:
        with Session(database.engine) as session, session.begin():
            return _upsert(session, values, seen_at, seen)
    except SQLAlchemyError as error:
        if row_error(error) is None:
            raise
    # One row spoiled the batch statement: store row by row, each in its own transaction.
    result = UpsertResult()
    for value in values:
        try:
            with Session(database.engine) as session, session.begin():
                result.add(_upsert(session, [value], seen_at, seen))
        except SQLAlchemyError as error:
            found = row_error(error)
            if found is None:
                raise
            result.rejected.append((value.get("url") or value.get("fetched_url") or "", *found))
    if result.rejected:
        logger.warning("%d article(s) refused by the database, recorded in rejects: %s", len(result.rejected),
                       "; ".join(f"{url}: {detail}" for url, _, detail in result.rejected[:3]))
        add_rejects(database, [{"url": url, "reason": reason, "detail": detail, "seen_at": seen_at}
                               for url, reason, detail in result.rejected], run_id=run_id)
    return result


def _upsert(session: Session, values: list[dict[str, Any]], seen_at: datetime, seen: bool = True) -> UpsertResult:
    result = UpsertResult()
    postgresql = session.get_bind().dialect.name == "postgresql"
    existing = _existing_rows(session, [value["url"] for value in values], postgresql)
    _update_existing(session, [value for value in values if value["url"] in existing], existing, seen_at, result, seen)
    new = [value for value in values if value["url"] not in existing]
    if new:
        # PostgreSQL: one array per column (_insert_pg_arrays). SQLite: RETURNING makes SQLAlchemy send
        # multi-row INSERTs ("insertmanyvalues", SQL compiled once) instead of one statement per row:
        # SQLite's FTS5 flushes its index at every statement that fires the sync trigger, so one statement
        # per row was 2.5x slower (scripts/bench_storage.py).
        rows = [{**value, "first_seen_at": seen_at, "last_seen_at": seen_at, "updated_at": seen_at, "revision": 1,
                 "withdrawn_at": None} for value in new]
        inserted = _insert_pg_arrays(session, rows) if postgresql else None
        if inserted is None:
            statement = _insert_statement(postgresql).returning(Article.__table__.c.url)
            inserted = set(session.execute(statement, rows).scalars())
        result.inserted = len(inserted)
        # Another crawl inserted some of these URLs between our SELECT and our INSERT: they are existing
        # rows now, and get the same treatment as any other (archive, revision, updated_at rules).
        raced = [value for value in new if value["url"] not in inserted]
        if raced:
            logger.info("%d article(s) were inserted by another writer meanwhile: updated instead", len(raced))
            again = _existing_rows(session, [value["url"] for value in raced], postgresql)
            _update_existing(session, raced, again, seen_at, result, seen)
    return result


def _existing_rows(session: Session, urls: list[str], postgresql: bool) -> dict[str, Any]:
    """The stored rows of these URLs (what the upsert compares), locked on PostgreSQL."""
    existing = {}
    for chunk in in_chunks(urls):
        query = select(Article.id, Article.url, Article.revision, Article.withdrawn_at,
                       *(getattr(Article, name) for name in _COMPARED_COLUMNS + RECORD_COLUMNS))
        query = query.where(Article.url.in_(chunk))
        if postgresql:
            query = query.with_for_update()  # a concurrent crawl waits instead of racing the revision
        existing.update((row.url, row) for row in session.execute(query))
    return existing


def _update_existing(session: Session, values: list[dict[str, Any]], existing: dict[str, Any],
                     seen_at: datetime, result: UpsertResult, seen: bool = True) -> None:
    """Rows whose URL is stored: revised (archived first), refreshed in place (updated_at moved when the
    export contract sees the change, or the article was withdrawn and is back), or only seen again
    (`seen=False`, a reparse: last_seen_at left alone, and a withdrawn article stays withdrawn)."""
    revised, refreshed, refreshed_quietly, unchanged, unchanged_record = [], [], [], [], []
    last_seen = {"last_seen_at": seen_at} if seen else {}
    for value in values:
        old = existing[value["url"]]
        back = {"withdrawn_at": None} if seen and old.withdrawn_at is not None else {}  # fetched again: restored
        if back:
            result.restored += 1
        if old.content_hash == value["content_hash"] and value["warc_record_id"] is None:
            value = {**value, **{name: getattr(old, name) for name in RECORD_COLUMNS}}  # keeps its record
        if old.content_hash != value["content_hash"]:
            revised.append({"id": old.id, **value, "revision": old.revision + 1,
                            "updated_at": seen_at, **last_seen, **back})
        elif back or any(getattr(old, name) != value[name] for name in CONTRACT_METADATA_COLUMNS):
            refreshed.append({"id": old.id, **value, "updated_at": seen_at, **last_seen, **back})
        elif any(getattr(old, name) != value[name] for name in _COMPARED_COLUMNS):
            # fetched_url, html, template, provenance, validators: not in the contract, the cursor stays
            refreshed_quietly.append({"id": old.id, **value, **last_seen})
        elif value["warc_record_id"] != old.warc_record_id:  # seen again: its newer record
            unchanged_record.append({"id": old.id, **last_seen, **{name: value[name] for name in RECORD_COLUMNS}})
        else:
            unchanged.append(old.id)

    if revised:
        # The stored version goes to the archive first, in this same transaction.
        archived = [getattr(Article, name) for name in _ARCHIVED_COLUMNS]
        for chunk in in_chunks([row["id"] for row in revised]):
            session.execute(
                ArticleRevision.__table__.insert().from_select(
                    ["article_id", "revision", *_ARCHIVED_COLUMNS, "replaced_at"],
                    select(Article.id, Article.revision, *archived, literal(seen_at, AwareDateTime()))
                    .where(Article.id.in_(chunk)),
                )
            )
        session.execute(update(Article), revised)  # ORM bulk UPDATE by primary key
    for batch in (refreshed, refreshed_quietly, unchanged_record):  # one key set per executemany
        if batch:
            session.execute(update(Article), batch)
    for chunk in in_chunks(unchanged if seen else []):
        session.execute(update(Article).where(Article.id.in_(chunk)).values(last_seen_at=seen_at))
    result.revised += len(revised)
    result.refreshed += len(refreshed) + len(refreshed_quietly)
    result.unchanged += len(unchanged) + len(unchanged_record)


def _insert_pg_arrays(session: Session, rows: list[dict[str, Any]]) -> set[str] | None:
    """PostgreSQL: the rows as one array per column, unnested by one short statement (INSERT … SELECT FROM
    unnest(…) ON CONFLICT (url) DO NOTHING RETURNING url); the URLs inserted. The multi-row VALUES that
    SQLAlchemy sends instead has 25 placeholders per row, which psycopg parses again for every batch
    (too long for its cache): measured 0.1 ms per article of a first insert. Each value goes through the
    column type's own bind processing (JSON, aware datetimes), as with the ORM; a value that processing
    refuses (a naive datetime) returns None, and the caller's usual statement reports it."""
    statement, processors = _pg_array_insert(session.get_bind().dialect)
    try:
        columns = {name: [process(row[name]) for row in rows] if process else [row[name] for row in rows]
                   for name, process in processors.items()}
    except (ValueError, TypeError):
        return None
    return set(session.connection().exec_driver_sql(statement, columns).scalars())


# The array insert of a dialect (statement, bind processors): made once per engine's dialect.
_pg_array_inserts: weakref.WeakKeyDictionary[Dialect, tuple[str, dict[str, Any]]] = weakref.WeakKeyDictionary()


def _pg_array_insert(dialect: Dialect) -> tuple[str, dict[str, Any]]:
    found = _pg_array_inserts.get(dialect)
    if found is None:
        table_ = Article.__table__
        names = [c.name for c in table_.columns if c.name != "id"]
        # Arrays of the base type, without the length: a cast to varchar(500) would cut a longer value,
        # where the insert into the column refuses it (a db_constraint reject, as before).
        casts = ", ".join(f"%({name})b::{re.sub(r'[(][0-9]+[)]', '', table_.c[name].type.compile(dialect))}[]"
                          for name in names)
        listed = ", ".join(names)
        statement = (f"INSERT INTO articles ({listed}) SELECT {listed} FROM unnest({casts}) WITH ORDINALITY "
                     f"AS v({listed}, n) ORDER BY n ON CONFLICT (url) DO NOTHING RETURNING url")
        processors = {name: table_.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names}
        found = _pg_array_inserts[dialect] = statement, processors
    return found


def _insert_statement(postgresql: bool):
    """INSERT … ON CONFLICT (url) DO NOTHING: a row another crawl inserted meanwhile is neither duplicated
    nor overwritten here; its URL is missing from RETURNING, and _upsert updates it like any stored row
    (archiving the version it replaces)."""
    if postgresql:
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(Article.__table__)  # Core: the ORM bulk path costs ~40% more per row
    return statement.on_conflict_do_nothing(index_elements=[Article.url])


def _article_values(row: dict[str, Any]) -> dict[str, Any]:
    values = {name: row.get(name) for name in _CONTENT_COLUMNS + _VALIDATOR_COLUMNS + RECORD_COLUMNS}
    values["url"] = row.get("url")
    values["attachments"] = list(row.get("attachments") or [])
    values["images"] = list(row.get("images") or [])
    values["videos"] = list(row.get("videos") or [])
    values["provenance"] = dict(row.get("provenance") or {})
    return values


@dataclass
class GoneResult:
    """What the gone pages among a batch's rejects did to the stored articles."""

    withdrawn: list[str] = field(default_factory=list)  # gone on the check before too: withdrawn now
    first_gone: list[str] = field(default_factory=list)  # gone for the first time: withdrawn if the next check agrees


def withdraw_gone(database: Connected, rejects: Iterable[dict[str, Any]], now: datetime | None = None) -> GoneResult:
    """Of these rejects (rows of url, reason), the stored articles whose page answered 404 or 410: withdrawn
    (withdrawn_at and updated_at = now, the HTTP validators dropped so that the next check asks for the whole
    page) when the check before said gone too, which the re-fetch schedule remembers as the URL's latest
    reason; else only noted, as that reason, by the caller's schedule_refetches afterwards. Call it before
    that. A failure between the two (5xx, timeout: a transient reason on the schedule) starts the count
    again: two gone answers in a row, never one, withdraw an article. Already withdrawn: left as it is."""
    now = now or datetime.now(timezone.utc)
    gone = sorted({row["url"] for row in rejects if row.get("url") and row.get("reason") in GONE_REASONS})
    result = GoneResult()
    if not gone:
        return result
    with Session(database.engine) as session, session.begin():
        present: list[str] = []
        for chunk in in_chunks(gone):
            present += session.scalars(select(Article.url).where(Article.url.in_(chunk), Article.withdrawn_at.is_(None)))
        earlier: dict[str, str] = {}
        for chunk in in_chunks(present):
            earlier.update((url, reason) for url, reason in
                           session.execute(select(Refetch.url, Refetch.reason).where(Refetch.url.in_(chunk))))
        result.withdrawn = sorted(url for url in present if earlier.get(url) in GONE_REASONS)
        result.first_gone = sorted(url for url in present if earlier.get(url) not in GONE_REASONS)
        for chunk in in_chunks(result.withdrawn):
            session.execute(update(Article).where(Article.url.in_(chunk))
                            .values(withdrawn_at=now, updated_at=now, etag=None, last_modified=None))
    return result
