"""Whether the service is healthy for a monitor (/healthz, `cascrawl health`): a pure rule over stored runs.

Healthy only when the latest completed run (a `running` one is skipped: it has not said yet) is `finished` and
younger than the maximum age (CASCRAWL_HEALTH_MAX_AGE). A run's problems are read by the one reader of them,
cascrawl.run.verdict.recorded_problem_entries, as every other reader does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cascrawl import stats_keys
from cascrawl.run.verdict import recorded_problem_entries

# Written by the run record (the shared contract of issue #22): [{"code", "names", "text"}, …].
PROBLEMS_KEY = stats_keys.VERDICT_PROBLEMS

HEALTHY, UNHEALTHY = "healthy", "unhealthy"
# The reason codes a monitor can match on.
OK, FAILED, DEGRADED, STOPPED, INTERRUPTED, STALE, NO_RUN, DATABASE = (
    "ok", "failed", "degraded", "stopped", "interrupted", "stale", "no_run", "database_unreachable")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_max_age(value: str | float | int) -> float:
    """Seconds from `93600`, `93600.5`, `26h`, `90m`, `1d2h` or `1h 30m`; ValueError for anything else or <= 0."""
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION.findall(text)
            if not parts or _DURATION.sub("", text).strip():
                raise ValueError(f"expected seconds or a duration such as 26h, 90m, 1d12h, got {value!r}") from None
            seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if not seconds > 0:
        raise ValueError(f"expected a positive age, got {value!r}")
    return seconds


@dataclass(frozen=True)
class Health:
    verdict: str  # healthy | unhealthy
    reason: str  # ok | failed | degraded | stopped | interrupted | stale | no_run | database_unreachable
    detail: str  # one line for people
    run: dict[str, Any] | None = None  # the run judged: the latest completed one
    problems: list[dict[str, Any]] = field(default_factory=list)  # {"code", "names", "text"}
    age_seconds: float | None = None  # since the judged run ended (started, when it has no end)
    max_age_seconds: float | None = None
    stale_since: datetime | None = None  # when the judged run became too old (set only when it is)

    @property
    def healthy(self) -> bool:
        return self.verdict == HEALTHY


def latest_completed(runs: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The first crawl (of runs newest first) that is not `running`. A run of another kind (its settings'
    CASCRAWL_RUN_KIND: `reparse`, cascrawl/reparse/) fetches nothing, so it says nothing of the crawls."""
    return next((run for run in runs if run.get("status") != "running"
                 and not (run.get("settings") or {}).get("CASCRAWL_RUN_KIND")), None)


def judge(runs: Iterable[dict[str, Any]], now: datetime, max_age_seconds: float) -> Health:
    """The health of the service from its runs (newest first, as the run reads return them) at `now`."""
    run = latest_completed(runs)
    if run is None:
        return Health(UNHEALTHY, NO_RUN, "no completed crawl run yet", max_age_seconds=max_age_seconds)
    ended = _utc(run.get("finished_at") or run.get("started_at"))
    now = _utc(now)
    age = max(0.0, (now - ended).total_seconds()) if ended and now else None
    base = {"run": run, "age_seconds": age, "max_age_seconds": max_age_seconds}
    status = run.get("status")
    label = f"run {run.get('id')}"
    if status != "finished":
        problems = recorded_problem_entries(run)
        reason = {"failed": FAILED, "degraded": DEGRADED, "stopped": STOPPED,
                  "interrupted": INTERRUPTED}.get(status, FAILED)
        why = run.get("reason") or "no reason recorded"
        if reason == DEGRADED and problems:
            why = "; ".join(problem["text"] for problem in problems)
        return Health(UNHEALTHY, reason, f"{label} {status}: {why}", problems=problems, **base)
    if age is None or age > max_age_seconds:
        since = ended + timedelta(seconds=max_age_seconds) if ended else None
        when = f"ended {ended.isoformat(timespec='seconds')}" if ended else "has no time recorded"
        return Health(UNHEALTHY, STALE, f"{label} {when}, more than {_duration(max_age_seconds)} ago: "
                                        "no successful run since", stale_since=since, **base)
    return Health(HEALTHY, OK, f"{label} finished {_duration(age)} ago", **base)


def unreachable(detail: str, max_age_seconds: float | None = None) -> Health:
    return Health(UNHEALTHY, DATABASE, f"database unreachable: {detail}", max_age_seconds=max_age_seconds)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{seconds} s"


def as_json(health: Health) -> dict[str, Any]:
    """The verdict's fields of /healthz and `cascrawl health --json` (without the run itself)."""
    return {"verdict": health.verdict, "reason": health.reason, "detail": health.detail,
            "problems": health.problems,
            "age_seconds": round(health.age_seconds, 3) if health.age_seconds is not None else None,
            "max_age_seconds": health.max_age_seconds,
            "stale_since": health.stale_since.isoformat() if health.stale_since else None}
