"""A run's mode (incremental, full, refresh, reparse), its incremental walk and HTTP answers told in words, and its
duration: pure functions of the settings, stats and times a run record stores.

The mode comes from the run's recorded settings: `CASCRAWL_RUN_KIND` (a reparse run's says `reparse`; a crawl's
has none), `CASCRAWL_INCREMENTAL` and `CASCRAWL_REFRESH_DAYS`. A run recorded before those two were kept with it
is judged by its stats: an incremental walk counts the articles it already knew.
"""

from __future__ import annotations

from typing import Any

from cascrawl import stats_keys

INCREMENTAL, FULL, REFRESH, REPARSE, UNKNOWN = "incremental", "full", "refresh", "reparse", "unknown"
RUN_KIND = "CASCRAWL_RUN_KIND"  # set by `cascrawl reparse` in the settings of its run


def run_mode(settings: dict[str, Any] | None, stats: dict[str, Any] | None = None) -> str:
    """incremental | full | refresh | reparse, or unknown (a run recorded without the settings that say it and
    without stats yet: a running one of an older version)."""
    settings = settings or {}
    stats = stats or {}
    if str(settings.get(RUN_KIND) or "").lower() == REPARSE:
        return REPARSE
    if _number(settings.get("CASCRAWL_REFRESH_DAYS")) > 0 or _number(stats.get(stats_keys.REFRESH_REQUESTED)) > 0:
        return REFRESH
    incremental = settings.get("CASCRAWL_INCREMENTAL")
    if isinstance(incremental, bool):
        return INCREMENTAL if incremental else FULL
    if stats_keys.INCREMENTAL_KNOWN_ARTICLES in stats:
        return INCREMENTAL
    if stats_keys.REFRESH_REQUESTED in stats:  # the spider sets it in every mode, the known articles only incrementally
        return FULL
    return UNKNOWN


def incremental_facts(stats: dict[str, Any] | None, settings: dict[str, Any] | None = None) -> list[str]:
    """What the walk skipped and why, one sentence each, from the run's stats and settings (empty: nothing
    to say). A full walk knows no stored article: every entry it reads is fetched, none is "late"."""
    stats = stats or {}
    count = lambda key: _number(stats.get(key))  # noqa: E731
    kind = run_mode(settings, stats)
    if kind == REPARSE:
        return []
    facts = []
    if kind == FULL or (kind == REFRESH and stats_keys.REFRESH_REQUESTED in stats
                        and stats_keys.INCREMENTAL_KNOWN_ARTICLES not in stats):
        facts.append("a full walk: every listing entry was fetched, stored before or not")
    known = count(stats_keys.INCREMENTAL_KNOWN_ARTICLES)
    if stats_keys.INCREMENTAL_KNOWN_ARTICLES in stats:
        facts.append(f"{known} article(s) already stored were not fetched again" if known else
                     "no article was stored before this run: every listing entry was new")
    skipped = count(stats_keys.INCREMENTAL_KNOWN_SKIPPED)
    if skipped:
        facts.append(f"{skipped} listing entr{'y' if skipped == 1 else 'ies'} skipped as already stored")
    early = count(stats_keys.INCREMENTAL_STOPPED_EARLY)
    if early:
        facts.append(f"{early} section walk(s) stopped where the last complete walk began")
    deep = stats.get(stats_keys.WALKS_DEEP)
    if isinstance(deep, list) and deep:
        facts.append(f"walked down to the last listing page (deep walk): {', '.join(map(str, deep))}")
    late = count(stats_keys.INCREMENTAL_LATE_ENTRIES)
    if late and stats_keys.INCREMENTAL_KNOWN_ARTICLES in stats:  # only an incremental walk has a boundary
        facts.append(f"{late} late or back-dated entr{'y' if late == 1 else 'ies'} found below that point, walked on")
    cut = count(stats_keys.INCREMENTAL_CUT_BY_MAX_PAGES)
    if cut:
        facts.append(f"{cut} section walk(s) cut by CASCRAWL_MAX_PAGES (the next run goes on)")
    due = count(stats_keys.REFETCH_DUE)
    if due:
        facts.append(f"{due} rejected page(s) due again were requested directly")
    waiting = count(stats_keys.INCREMENTAL_REJECTED_WAITING)
    if waiting:
        facts.append(f"{waiting} rejected page(s) wait for their next try")
    refresh = count(stats_keys.REFRESH_REQUESTED)
    days = _number((settings or {}).get("CASCRAWL_REFRESH_DAYS"))
    if refresh or days:
        facts.append(f"{refresh} article(s)" + (f" of the last {days} day(s)" if days else " published recently")
                     + " re-fetched to catch edits (refresh)")
    incomplete = stats.get(stats_keys.WALKS_INCOMPLETE)
    if isinstance(incomplete, list) and incomplete:
        facts.append(f"not walked to the end (the next run goes on): {', '.join(map(str, incomplete))}")
    return facts


def http_summary(stats: dict[str, Any] | None) -> dict[str, int]:
    """Responses by HTTP status, from Scrapy's stats: {"200": 43, "404": 1} in status order."""
    prefix = "downloader/response_status_count/"
    found = {key[len(prefix):]: _number(value) for key, value in (stats or {}).items() if key.startswith(prefix)}
    return dict(sorted(found.items()))


def _number(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def run_seconds(run: dict[str, Any], now: Any = None) -> float | None:
    """How long the run took (or has been running, given `now`), in seconds; None without the times."""
    started, finished = run.get("started_at"), run.get("finished_at") or now
    if started is None or finished is None:
        return None
    try:
        return max(0.0, (finished - started).total_seconds())
    except (TypeError, AttributeError):
        return None


def describe_seconds(seconds: float | None) -> str:
    """`42 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`: a duration as people read it ('' for None)."""
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
