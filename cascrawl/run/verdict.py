"""The verdict on a run, in one place: the status and reason its record stores, the problems shown for it
(`runs show`, the API, the operator page), the headline of its summary and the exit code of `cascrawl crawl`.

Pure functions of the crawler's stats (`verdict`) or of a stored run record (`recorded_problems`); the rules
that decide how a run went live here and nowhere else. Imports only cascrawl.health (the wording of its
problems).
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cascrawl import stats_keys
from cascrawl.health import degraded_because

FINISHED, DEGRADED, STOPPED, FAILED, RUNNING = "finished", "degraded", "stopped", "failed", "running"


@dataclass(frozen=True)
class Verdict:
    status: str  # what the run record stores: finished | degraded | stopped | failed
    reason: str  # why, as stored (the crawl's finish reason, or why storing failed)
    problems: tuple[str, ...]  # the end-of-run health check's: layout alarms, listing pages not read
    exit_code: int  # of `cascrawl crawl`: 0 ok, 2 finished with failures, 1 failed, 128 + signal when stopped
    headline: str  # the summary's word for it: ok, finished with failures, failed, stopped, degraded (…)

    @property
    def proves_walks(self) -> bool:
        """Only a run that ended by itself with everything written can prove a section's walk complete."""
        return self.status in (FINISHED, DEGRADED)


def health_status(problems: Iterable[str]) -> str:
    """`cascrawl/health/status`: degraded when the health check found any problem."""
    return DEGRADED if list(problems) else "ok"


def verdict(stats: dict, reason: str | None = None, failure: str | None = None, *, stop_signal: int | None = None,
            stopped_at_once: bool = False) -> Verdict:
    """How the run went, from its stats. `reason`: why the crawl closed (default the stats' finish_reason);
    `failure`: why storing failed, if it did (the persist pipeline's short text); `stop_signal` and
    `stopped_at_once`: the SIGTERM / SIGINT that stopped it, and whether a second one stopped it at once."""
    if reason is None:
        reason = stats.get(stats_keys.FINISH_REASON)
    problems = tuple(stats.get(stats_keys.HEALTH_PROBLEMS) or [])
    if failure:
        status, why = FAILED, failure
    else:
        status, why = (FINISHED if reason == "finished" else STOPPED), reason or ""
        if status == FINISHED and problems:
            status = DEGRADED  # a layout alarm, or listing pages not read (cascrawl.run.healthcheck)
    code = _exit_code(stats, reason, problems, stop_signal, stopped_at_once)
    headline = {0: "ok", 2: "finished with failures", 1: "failed"}.get(code, "stopped")
    if stopped_at_once and code != 1:
        headline = "stopped at once"
    if problems:
        headline = f"degraded ({degraded_because(problems)})"
    return Verdict(status, why, problems, code, headline)


def shared_run_verdict(status: str, reason: str, queued: int, workers: list[dict[str, Any]],
                       gave_up: list[str]) -> tuple[str, str, bool]:
    """(status, reason, done) of a distributed run closed by its last worker, from that worker's own status
    and reason, the requests left in the shared queue, the workers' rows and the workers that gave up on
    Redis. Done (the walks may be recorded complete) only with the queue empty and the closing worker
    finished; a worker's degraded health degrades the run; requests left stop it; a worker that lost Redis
    dropped the requests it held for Redis, so the run is degraded and its listings walked again."""
    done = queued == 0 and status in (FINISHED, DEGRADED)
    if done and any((row.get("stats") or {}).get(stats_keys.HEALTH_STATUS) == DEGRADED for row in workers):
        status = DEGRADED
    if not done and status in (FINISHED, DEGRADED):
        status, reason = STOPPED, f"{queued} requests left in the shared queue"
    if gave_up and done and status == FINISHED:
        status, reason = DEGRADED, f"worker {', '.join(gave_up)} lost Redis: listings walked again next run"
    return status, reason, done


def _count(stats: dict, key: str) -> int:
    try:
        return int((stats or {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0


def _exit_code(stats: dict, reason: str | None, problems: tuple[str, ...], stop_signal: int | None,
               stopped_at_once: bool) -> int:
    if stats.get(stats_keys.RUN_LOCKED) or _count(stats, stats_keys.ARTICLES_LOST) or stats.get(stats_keys.SPOOLED):
        return 1
    if stats.get(stats_keys.REDIS_STOPPED):  # Redis away too long, or back without the run
        return 1
    if reason == "shutdown" or stopped_at_once:
        return 128 + (stop_signal or signal.SIGTERM)
    if reason != "finished":
        return 1
    if problems or _count(stats, stats_keys.LISTING_FETCH_FAILED) or _count(stats, "spider_exceptions/count"):
        return 2
    return 0


# Stats that make a stored run degraded, with what each means.
RUN_PROBLEMS = (
    (stats_keys.LISTING_FETCH_FAILED, "listing page(s) could not be fetched"),
    (stats_keys.SECTIONS_MISSING, "section(s) answered 404"),
    ("spider_exceptions/count", "spider exception(s)"),
    (stats_keys.ARTICLES_LOST, "article(s) lost: the database failed"),
    (stats_keys.ARTICLES_SPOOLED, "article(s) kept in the spool: the database stayed away (the next run writes them)"),
    (stats_keys.ARTICLES_REFUSED, "article(s) refused by the database"),
    ("log_count/ERROR", "error(s) logged"),
)


def recorded_problems(run: dict[str, Any]) -> list[str]:
    """Why a stored run is degraded, in words; empty for a clean run.

    From the status and the crawler's stats the record keeps; a `degraded` or `problems` column, once the
    run record has one, is taken as it is.
    """
    problems = []
    if run.get("status") not in (FINISHED, RUNNING):
        problems.append(f"status {run.get('status')}: {run.get('reason') or 'no reason recorded'}")
    stats = run.get("stats") or {}
    for key, meaning in RUN_PROBLEMS:
        if _count(stats, key):
            problems.append(f"{_count(stats, key)} {meaning}")
    incomplete = stats.get(stats_keys.WALKS_INCOMPLETE)
    if isinstance(incomplete, list) and incomplete:
        problems.append(f"not walked to the end (the next run goes on): {', '.join(map(str, incomplete))}")
    unread = stats.get(stats_keys.WALKS_UNREAD_PAGES)  # set by the spider: "section S: URL (reason)"
    if isinstance(unread, list):
        problems.extend(f"listing page not read: {line}" for line in unread)
    for name in ("degraded", "problems", "degraded_reasons"):
        value = run.get(name)
        if isinstance(value, list):
            problems.extend(str(item) for item in value)
        elif isinstance(value, str) and value:
            problems.append(value)
    return problems
