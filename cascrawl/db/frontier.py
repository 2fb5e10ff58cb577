"""The crawl frontier kept between runs: per section, how far its listing is known to be complete
(`section_walks`); per rejected page, when to try it again (`refetch_schedule`). Every function that
reads or writes takes the `Database` first (cascrawl/db/__init__.py says why)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cascrawl.db.database import Database
from cascrawl.db.engine import in_chunks
from cascrawl.db.models import Refetch, SectionWalk
from cascrawl.db.runs import interrupt_stale_runs
from cascrawl.walk import Boundary, WalkProgress

# The walk's own types (cascrawl/walk.py), stored here; interrupt_stale_runs is runs.py's (its old home).
__all__ = ["Boundary", "WalkProgress", "interrupt_stale_runs"]

# Rejections that may go away by themselves: tried again at the next run. Everything else is
# permanent (404/410, no body, not an article, refused by the database, …) and waits a growing back-off.
TRANSIENT_PREFIXES = ("fetch_failed", "http_5", "http_429", "http_408")


# An article stored whose media archive failed on a file is re-fetched for that file: `media:<reason>`.
MEDIA_PREFIX = "media:"


def is_transient(reason: str) -> bool:
    return reason.removeprefix(MEDIA_PREFIX).startswith(TRANSIENT_PREFIXES)


def media_retry_reason(entries: Iterable[dict[str, Any]]) -> str | None:
    """Why an article must be fetched again for its files (`media:<reason>`), or None when every file
    was stored or skipped. A transient failure wins: the article is then due at the next run."""
    reasons = [entry["failure"].split(":")[0] for entry in entries if entry.get("status") == "failed"]
    if not reasons:
        return None
    return MEDIA_PREFIX + next((reason for reason in reasons if is_transient(reason)), reasons[0])


@dataclass(frozen=True, slots=True)
class DueRefetch:
    url: str
    section: str
    reason: str


def load_boundaries(database: Database, sections: Iterable[str]) -> dict[str, Boundary]:
    query = select(SectionWalk.section, SectionWalk.boundary_url, SectionWalk.boundary_date,
                   SectionWalk.deep_walked_at, SectionWalk.pages_unread).where(SectionWalk.section.in_(list(sections)))
    with Session(database.engine) as session:
        return {row.section: Boundary(row.boundary_url, row.boundary_date, row.deep_walked_at, listed=True,
                                      unread=tuple(row.pages_unread or ()))
                for row in session.execute(query)}


def scheduled(database: Database, sections: Iterable[str], now: datetime) -> tuple[set[str], list[DueRefetch]]:
    """(every URL on the schedule, the ones of these sections due now). All of them count as known:
    the due ones are requested directly, the others wait for their time."""
    urls: set[str] = set()
    due: list[DueRefetch] = []
    wanted = set(sections)
    query = select(Refetch.url, Refetch.section, Refetch.reason, Refetch.next_try_at)
    with Session(database.engine) as session:
        for row in session.execute(query.order_by(Refetch.id)):
            urls.add(row.url)
            if row.section in wanted and row.next_try_at <= now:
                due.append(DueRefetch(row.url, row.section, row.reason))
    return urls, due


def record_walks(database: Database, walks: Iterable[WalkProgress], run_id: int | None, *, final: bool,
                 now: datetime | None = None) -> None:
    """Write each section's walk. Only a final report of a complete walk moves the boundary (and, when it
    read every listing page, is the section's latest deep walk); any other report records progress
    (pages walked, pages not read, incomplete) for operators."""
    now = now or datetime.now(timezone.utc)
    walks = list(walks)
    with Session(database.engine) as session, session.begin():
        _insert_missing(session, SectionWalk, [{"section": walk.section, "walk_complete": False, "walk_pages": 0}
                                               for walk in walks])
        for walk in walks:
            row = session.get(SectionWalk, walk.section, with_for_update=True)
            if row.walk_run_id != run_id:
                row.walk_run_id, row.walk_started_at = run_id, now
            row.walk_pages = walk.pages
            row.pages_unread = list(walk.unread) or None
            if walk.pages_total is not None:
                row.pages_total = walk.pages_total
            done = final and walk.complete
            row.walk_complete = done
            if done:
                row.completed_at, row.completed_run_id = now, run_id
                if walk.top_url:  # an empty listing proves nothing about the boundary: keep it
                    row.boundary_url, row.boundary_date = walk.top_url, walk.top_date
                if walk.to_end:
                    row.deep_walked_at = now


def _insert_missing(session: Session, model, rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose primary key is not there yet, leaving existing ones alone: the workers of a
    distributed crawl write the same sections' walks at the same moment, and a look-then-insert let two
    of them insert one section (a duplicate key that stopped a worker)."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(model).values(rows).on_conflict_do_nothing())


def schedule_refetches(database: Database, rejects: Iterable[dict[str, Any]], *, max_days: float,
                       now: datetime | None = None) -> None:
    """Put rejected pages on the schedule (rows of url, fetched_url, section, reason): transient
    ones due at once, permanent ones after 1, 2, 4, … days (at most max_days) of rejections in a row."""
    now = now or datetime.now(timezone.utc)
    by_url = {row["url"]: row for row in rejects if row.get("url")}
    if not by_url:
        return
    with Session(database.engine) as session, session.begin():
        existing = {row.url: row for row in session.scalars(select(Refetch).where(Refetch.url.in_(list(by_url))))}
        for url, reject in by_url.items():
            row = existing.get(url)
            if row is None:
                row = Refetch(url=url, first_rejected_at=now, attempts=0)
                session.add(row)
            row.fetched_url = (reject.get("fetched_url") or url)[:1000]
            row.section = reject.get("section") or ""
            row.reason = reject["reason"][:100]
            row.permanent = not is_transient(reject["reason"])
            row.attempts += 1
            row.last_tried_at = now
            row.next_try_at = now + retry_delay(row.attempts, row.permanent, max_days)


def retry_delay(attempts: int, permanent: bool, max_days: float) -> timedelta:
    if not permanent:
        return timedelta(0)
    return timedelta(days=min(2.0 ** (max(attempts, 1) - 1), max_days))


def clear_refetches(database: Database, urls: Iterable[str]) -> None:
    """Pages now stored leave the schedule."""
    urls = list(urls)
    if not urls:
        return
    with Session(database.engine) as session, session.begin():
        for chunk in in_chunks(urls):
            session.execute(delete(Refetch).where(Refetch.url.in_(chunk)))


def walk_states(database: Database) -> list[SectionWalk]:
    """Every section's walk record, by section (detached rows: read their columns, not relations)."""
    with Session(database.engine, expire_on_commit=False) as session:
        return list(session.scalars(select(SectionWalk).order_by(SectionWalk.section)))


def _pages(count: int) -> str:
    return f"{count} listing page{'' if count == 1 else 's'}"


# How a walk's run ended, for the line of a walk it left unfinished: {status: words}.
_ENDED = {"stopped": "was stopped", "failed": "failed", "interrupted": "was interrupted (killed?)"}


def incomplete_line(walk: SectionWalk, run_status: str | None = None) -> str | None:
    """What an operator reads about a section whose latest walk is not complete, else None. Pure: the walk's
    record and the status of the run that walked it (`run_status`, as readers show it now: a dead run is
    `interrupted`; None when not known). Never contradicts itself: a walk being walked says so with its pages
    so far; a walk that reached every page its pager announced yet is not complete says why (its run did not
    end cleanly), never "0 listing pages left"; a walk whose pager was never read does not guess what is left."""
    if walk.walk_complete or walk.walk_run_id is None:
        return None
    unread = list(walk.pages_unread or [])
    total, pages, run = walk.pages_total, walk.walk_pages or 0, walk.walk_run_id
    named = "; ".join(unread[:3]) + (f"; and {len(unread) - 3} more" if len(unread) > 3 else "")
    if run_status == "running":
        line = f"being walked by run {run}: {_pages(pages)} reached so far" + (f" of {total}" if total else "")
        return line + (f"; {len(unread)} not read so far ({named})" if unread else "")
    not_read = f"{_pages(len(unread))} not read ({named}), read again by the next run" if unread else ""
    ended = _ENDED.get(run_status or "")
    cut = f"run {run} {ended}" if ended else None
    if walk.boundary_url is None:
        if total and (left := max(total - pages, 0) + len(unread)):
            line = f"backfill incomplete: {_pages(left)} left (of {total})"
            if cut:
                line += f"; {cut}"
        elif total:  # every announced page reached: only the end of its run could keep it from completing
            line = (f"backfill incomplete: all {total} listing pages reached, but run {run} "
                    f"{ended or 'did not prove the walk complete'}; the next run walks them again")
        else:
            line = (f"backfill incomplete: {_pages(pages)} walked, how many are left is not known (no pager read)"
                    + (f"; {cut}" if cut else ""))
        return f"{line}; {not_read}" if not_read else line
    if not_read:
        return (f"catch-up incomplete: {not_read}; the next run walks down to the last complete walk's "
                "newest entry again")
    if total and pages >= total:  # the whole listing reached without meeting the boundary: that entry is gone
        return (f"catch-up incomplete: all {total} listing pages reached without meeting the last complete walk's "
                f"newest entry (gone from the listing?), but run {run} "
                f"{ended or 'did not prove the walk complete'}; the next run walks the listing again")
    return (f"catch-up incomplete: stopped after {_pages(pages)}, before the last complete walk's newest entry"
            + (f" ({cut})" if cut else "") + "; the next run walks on to it")
