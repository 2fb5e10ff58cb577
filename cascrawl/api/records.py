"""Plain JSON-ready records shared by the HTTP API, the operator page and the inspection CLI.

No web framework here: the CLI imports this module without loading FastAPI.
Field names of articles are the export contract's (docs/export.md) plus `id`; every time is
ISO 8601 in Beijing time (+08:00), as in the export.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from cascrawl import stats_keys
from cascrawl.dates import BEIJING
from cascrawl.db import Article, ArticleRevision
from cascrawl.db.reads import served_html
from cascrawl.drift import drift_groups
from cascrawl.export import article_record, change_record
from cascrawl.health import coverage_record
from cascrawl.run.verdict import recorded_problem_entries, recorded_problems
from cascrawl.sections import split_sections

_SECTION = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)*$")
# What the API's `section` accepts (its OpenAPI pattern): slugs, comma-separated, nothing else.
SECTIONS_PATTERN = r"^[a-z0-9_-]+(/[a-z0-9_-]+)*(,[a-z0-9_-]+(/[a-z0-9_-]+)*)*$"


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(BEIJING).isoformat() if moment else None


def article_json(article: Article) -> dict[str, Any]:
    """The export contract's record with `id` first."""
    return {"id": article.id, **article_record(article)}


def change_json(article: Article) -> dict[str, Any]:
    """What the change cursor returns, with `id` first: the article, or its tombstone once withdrawn."""
    return {"id": article.id, **change_record(article)}


def article_detail_json(article: Article, revisions: list[ArticleRevision]) -> dict[str, Any]:
    """The contract record plus what an operator needs: provenance, layout, revisions, the sanitized body
    fragment, and whether the article was withdrawn (its record stays readable here)."""
    return {
        **article_json(article),
        "withdrawn_at": iso(article.withdrawn_at),
        "html": served_html(article),
        "revision": article.revision,
        "fetched_url": article.fetched_url,
        "docid": article.docid,
        "template": article.template,
        "script": article.script,
        "provenance": article.provenance or {},
        "last_seen_at": iso(article.last_seen_at),
        "revisions": [revision_json(revision) for revision in revisions],
    }


def revision_json(revision: ArticleRevision) -> dict[str, Any]:
    return {
        "revision": revision.revision,
        "title": revision.title,
        "published_date": revision.published_date.isoformat(),
        "content_hash": revision.content_hash,
        "text": revision.text,
        "template": revision.template,
        "updated_at": iso(revision.updated_at),
        "replaced_at": iso(revision.replaced_at),
    }


# --- runs ---

# Crawler stats worth a column, as (label, key).
RUN_COUNTS = (
    ("listing_pages", stats_keys.LISTING_PAGES),
    ("articles_stored", stats_keys.ARTICLES_UPSERTED),
    ("inserted", stats_keys.ARTICLES_INSERTED),
    ("revised", stats_keys.ARTICLES_REVISED),
    ("refreshed", stats_keys.ARTICLES_REFRESHED),
    ("unchanged", stats_keys.ARTICLES_UNCHANGED),
)
_RUN_FIELDS = ("id", "status", "reason", "started_at", "finished_at", "base_url", "sections", "settings", "stats",
               "rejects", "coverage", "log_file")


def _count(stats: dict, key: str) -> int:
    try:
        return int((stats or {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0


def run_problems(run: dict[str, Any]) -> list[str]:
    """Why a run is degraded, in words; empty for a clean run (the verdict's rules: cascrawl/run/verdict.py)."""
    return recorded_problems(run)


def run_json(run: dict[str, Any]) -> dict[str, Any]:
    """A run as listed: identity, status, counts and problems (no settings, no raw stats)."""
    stats = run.get("stats") or {}
    return {
        "id": run["id"],
        "status": run["status"],
        "reason": run.get("reason"),
        "started_at": iso(run.get("started_at")),
        "finished_at": iso(run.get("finished_at")),
        "base_url": run.get("base_url"),
        "sections": run.get("sections") or [],
        "counts": {label: _count(stats, key) for label, key in RUN_COUNTS} | {"rejects": run.get("rejects", 0)},
        "problems": run_problems(run),
    }


def run_detail_json(run: dict[str, Any]) -> dict[str, Any]:
    """Everything the run record has: the listed fields, rejects by reason, settings, stats and any newer column."""
    detail = run_json(run)
    detail["rejects_by_reason"] = run.get("rejects_by_reason", {})
    # The same problems with their codes and the names they concern (sections, workers, reasons).
    detail["problem_entries"] = recorded_problem_entries(run)
    # Recorded at the end of every run since schema revision 0005_run_coverage_log; for older runs, from their stats (same numbers).
    detail["coverage"] = run.get("coverage") or coverage_record(run.get("stats") or {})
    detail["log_file"] = run.get("log_file")
    # Pages no CAS layout recognised, grouped by where their body and heading were found (cascrawl/drift.py).
    detail["drift"] = drift_groups(run.get("stats"))
    detail["settings"] = run.get("settings") or {}
    detail["stats"] = run.get("stats") or {}
    if run.get("workers"):  # a distributed run: each worker as it is now (a silent one interrupted: dead)
        detail["workers"] = [worker_json(worker) for worker in run["workers"]]
    for name, value in run.items():  # columns added to crawl_runs later show up as they are
        if name not in _RUN_FIELDS and name not in detail:
            detail[name] = iso(value) if isinstance(value, datetime) else value
    return detail


def worker_json(worker: dict[str, Any]) -> dict[str, Any]:
    """One worker of a distributed run: who, its status as it is now, its counts (so far, while it runs)."""
    stats = worker.get("stats") or {}
    return {"worker": worker["worker"], "status": worker["status"], "reason": worker.get("reason"),
            "started_at": iso(worker.get("started_at")), "finished_at": iso(worker.get("finished_at")),
            "heartbeat_at": iso(worker.get("heartbeat_at")),
            "counts": {label: _count(stats, key) for label, key in RUN_COUNTS}}


def describe_log_file(path: str | None) -> str:
    """The run's log file as operators read it: the path, or why there is none to read."""
    if not path:
        return "not recorded (a run without a log file: plain scrapy crawl without LOG_FILE, or before schema revision 0005_run_coverage_log)"
    return path if Path(path).is_file() else f"{path} (no longer there: removed, or on another machine)"


def reject_json(reject: dict[str, Any]) -> dict[str, Any]:
    return {"id": reject["id"], "run_id": reject.get("run_id"), "url": reject["url"], "reason": reject["reason"],
            "detail": reject.get("detail"), "seen_at": iso(reject.get("seen_at")),
            "next_try_at": iso(reject.get("next_try_at"))}


def section_json(stats) -> dict[str, Any]:
    last_run = stats.last_run
    return {
        "section": stats.section,
        "articles": stats.articles,
        "newest_published_date": stats.newest_published.isoformat() if stats.newest_published else None,
        "last_updated_at": iso(stats.last_updated_at),
        "last_run": None if last_run is None else {
            "id": last_run["id"], "status": last_run["status"],
            "started_at": iso(last_run["started_at"]), "finished_at": iso(last_run["finished_at"]),
        },
        "listing_complete_at": iso(stats.listing_complete_at),
        "incomplete": stats.incomplete,
    }


# --- input ---

# Ids are `integer` columns, 32-bit on PostgreSQL: a larger id is refused (422) instead of overflowing the
# driver (SQLite) or the server's integer (PostgreSQL).
MAX_ID = 2**31 - 1

_FIRST_MOMENT = datetime.min.replace(tzinfo=timezone.utc)
_LAST_MOMENT = datetime.max.replace(tzinfo=timezone.utc)


def parse_moment(value: str, name: str, end_of_day: bool = False) -> datetime:
    """`YYYY-MM-DD` or an ISO 8601 date-time; without an offset, Beijing time. ValueError with a clear message.

    A bare date is the start of that day, or with end_of_day the start of the next (so that an
    exclusive upper bound includes the whole day). Every RFC 3339 date-time is taken (lower-case `t` and `z`,
    a leap second as :59); a moment beyond what the database can hold (year 1 or 9999 in another zone) is
    clamped to the first or last one, which selects the same articles.
    """
    text = value.strip()
    if len(text) > 10 and text[10] in "t ":
        text = text[:10] + "T" + text[11:]
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    leap = re.match(r"^(.{10}T\d\d:\d\d:)60(?=\D|$)", text)
    if leap:
        text = leap.group(1) + "59" + text[leap.end():]
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end_of_day and day == date.max:
                return _LAST_MOMENT
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time(), BEIJING)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=BEIJING)
    except ValueError:
        raise ValueError(f"{name}: expected a date like 2025-06-14 or an ISO 8601 date-time like "
                         f"2025-06-14T08:30:00+08:00, got {value!r}") from None
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        return _FIRST_MOMENT if moment.year == 1 else _LAST_MOMENT


def parse_section_filter(value: str | None, name: str = "section", strict: bool = False) -> tuple[str, ...]:
    """A filter of stored articles by section: comma-separated slugs (`yw,syky`, `djcx/gz`), read by
    `cascrawl.sections.split_sections`; () for none; ValueError for anything else. strict (the API): exactly
    SECTIONS_PATTERN, no spaces or stray commas and slashes (the CLI and the operator page forgive them)."""
    if value is None:
        return ()
    if strict and not re.fullmatch(SECTIONS_PATTERN, value):
        raise ValueError(f"{name}: expected section slugs such as yw or djcx/gz, comma-separated, got {value!r}")
    slugs = split_sections(value)
    bad = [slug for slug in slugs if not _SECTION.match(slug)]
    if bad or not slugs:
        raise ValueError(f"{name}: expected section slugs such as yw or djcx/gz, comma-separated, got {value!r}")
    return slugs
