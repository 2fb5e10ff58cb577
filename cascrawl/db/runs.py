"""The records of crawl runs: a run's row (started, finished, interrupted), the workers of a distributed
run, and the rejects a run recorded."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cascrawl import stats_keys
from cascrawl.db.engine import Connected
from cascrawl.db.models import CrawlRun, Reject, RunWorker

# The reason a run that died without closing is given, by the next run or by a reader that finds it dead.
INTERRUPTED_REASON = "the process ended without closing the run (killed?)"
# A running run is presumed dead (if its lock is free too) after this many heartbeat intervals without one.
STALE_BEATS = 3
DEFAULT_HEARTBEAT_SECONDS = 5.0  # a run that recorded no interval: CASCRAWL_HEARTBEAT_SECONDS's default
# A run without any heartbeat (heartbeats off, or recorded before 0011_run_heartbeat): dead this long after its start.
NO_HEARTBEAT_GRACE = timedelta(seconds=60)

def start_run(database: Connected, *, base_url: str | None, sections: list[str], settings: dict[str, Any],
              started_at: datetime | None = None, log_file: str | None = None) -> int:
    with Session(database.engine) as session, session.begin():
        run = CrawlRun(started_at=started_at or datetime.now(timezone.utc), status="running",
                       base_url=base_url, sections=list(sections), settings=settings, log_file=log_file)
        session.add(run)
        session.flush()
        return run.id


def finish_run(database: Connected, run_id: int, *, status: str, reason: str | None, stats: dict[str, Any] | None,
               coverage: dict[str, Any] | None = None, finished_at: datetime | None = None) -> None:
    with Session(database.engine) as session, session.begin():
        session.execute(
            update(CrawlRun).where(CrawlRun.id == run_id).values(
                status=status, reason=reason, stats=stats, coverage=coverage,
                finished_at=finished_at or datetime.now(timezone.utc))
        )


def interrupt_stale_runs(database: Connected, before_run_id: int) -> int:
    """Runs still `running` when a new run holds the lock were killed (SIGKILL, power cut): say so."""
    with Session(database.engine) as session, session.begin():
        result = session.execute(
            update(CrawlRun).where(CrawlRun.status == "running", CrawlRun.id < before_run_id)
            .values(status="interrupted", reason=INTERRUPTED_REASON))
        return result.rowcount or 0


def beat(database: Connected, run_id: int, live: dict[str, Any], at: datetime | None = None) -> bool:
    """A running run's heartbeat: its last sign of life and its counts so far. A run already closed is left
    as it is (a late beat must not touch it); False then."""
    with Session(database.engine) as session, session.begin():
        result = session.execute(update(CrawlRun).where(CrawlRun.id == run_id, CrawlRun.status == "running")
                                 .values(heartbeat_at=at or datetime.now(timezone.utc), live=live))
        return bool(result.rowcount)


def heartbeat_stale(run: dict[str, Any], now: datetime | None = None) -> bool:
    """A `running` run that has not said it is alive for STALE_BEATS of its heartbeat intervals (or, with no
    heartbeat at all, for NO_HEARTBEAT_GRACE since it started). Only a stale run whose lock is free is dead:
    reads.py checks the lock."""
    if run.get("status") != "running":
        return False
    now = now or datetime.now(timezone.utc)
    last = run.get("heartbeat_at")
    if last is None:
        started = run.get("started_at")
        return started is not None and now - started > NO_HEARTBEAT_GRACE
    try:
        interval = float((run.get("live") or {}).get("interval") or DEFAULT_HEARTBEAT_SECONDS)
    except (TypeError, ValueError):
        interval = DEFAULT_HEARTBEAT_SECONDS
    return now - last > timedelta(seconds=STALE_BEATS * max(interval, 0.1))


def as_interrupted(run: dict[str, Any]) -> dict[str, Any]:
    """A run read while it is dead (stale, lock free), shown as the next run will record it."""
    return {**run, "status": "interrupted", "reason": run.get("reason") or INTERRUPTED_REASON}


def with_live_counts(run: dict[str, Any]) -> dict[str, Any]:
    """A run not closed by its crawl (running, or killed: no stats at close, perhaps only what a
    notification recorded) shows its heartbeat's counts under the same stats keys, beside those."""
    live = run.get("live")
    stats = run.get("stats") or {}
    if not isinstance(live, dict) or stats_keys.FINISH_REASON in stats or stats_keys.VERDICT_PROBLEMS in stats:
        return run
    return {**run, "stats": {**{key: value for key, value in live.items() if key != "interval"}, **stats}}


def running_runs(database: Connected) -> list[dict[str, Any]]:
    """The runs recorded `running` (alive, or killed without closing), every column, oldest first."""
    with Session(database.engine) as session:
        rows = session.scalars(select(CrawlRun).where(CrawlRun.status == "running").order_by(CrawlRun.id))
        return [{c.key: getattr(run, c.key) for c in CrawlRun.__table__.columns} for run in rows]


def mark_interrupted(database: Connected, run_id: int) -> bool:
    """A run found dead (stale heartbeat, run lock free) recorded as such; False when it is no longer running."""
    with Session(database.engine) as session, session.begin():
        result = session.execute(update(CrawlRun).where(CrawlRun.id == run_id, CrawlRun.status == "running")
                                 .values(status="interrupted", reason=INTERRUPTED_REASON))
        return bool(result.rowcount)


def claim_notification(database: Connected, run_id: int, at: datetime | None = None) -> bool:
    """Whoever is about to notify a run's end claims it first (crawl_runs.notified_at): True for the one
    claim that wins, so that the crawl, `cascrawl health` and `cascrawl serve` never notify a run twice."""
    with Session(database.engine) as session, session.begin():
        result = session.execute(update(CrawlRun).where(CrawlRun.id == run_id, CrawlRun.notified_at.is_(None))
                                 .values(notified_at=at or datetime.now(timezone.utc)))
        return bool(result.rowcount)


def record_notification(database: Connected, run_id: int, key: str, sent: dict[str, Any]) -> None:
    """What was sent about a run, into its stats under `key` (cascrawl/run/notify.py's)."""
    with Session(database.engine) as session, session.begin():
        run = session.get(CrawlRun, run_id, with_for_update=True)
        if run is not None:
            run.stats = {**(run.stats or {}), key: sent}


def get_run(database: Connected, run_id: int) -> dict[str, Any] | None:
    """The run's row, every column (reads.get_run adds its rejects)."""
    with Session(database.engine) as session:
        run = session.get(CrawlRun, run_id)
        return None if run is None else {c.key: getattr(run, c.key) for c in CrawlRun.__table__.columns}


def previous_run_stats(database: Connected, before_run_id: int | None, limit: int = 10) -> list[dict]:
    """The stats of the last `limit` finished runs before this one (for layout-change alarms)."""
    with Session(database.engine) as session:
        query = select(CrawlRun.stats).where(CrawlRun.status.in_(("finished", "degraded")), CrawlRun.stats.is_not(None))
        if before_run_id is not None:
            query = query.where(CrawlRun.id < before_run_id)
        return [stats for stats in session.scalars(query.order_by(CrawlRun.id.desc()).limit(limit)) if stats]


# --- distributed runs: one run record, several workers ---

def rejoin_run(database: Connected, run_id: int) -> bool:
    """A worker joins a distributed run (False: no such run here). A run that all workers had left
    (stopped, or interrupted when they were killed) is running again."""
    with Session(database.engine) as session, session.begin():
        run = session.get(CrawlRun, run_id)
        if run is None:
            return False
        if run.status != "running":
            run.status, run.finished_at, run.reason = "running", None, None
        return True


def add_worker(database: Connected, run_id: int, worker: str) -> int:
    with Session(database.engine) as session, session.begin():
        row = RunWorker(run_id=run_id, worker=worker[:200], started_at=datetime.now(timezone.utc), status="running")
        session.add(row)
        session.flush()
        return row.id


def finish_worker(database: Connected, worker_id: int, *, status: str, reason: str | None,
                  stats: dict[str, Any] | None) -> None:
    with Session(database.engine) as session, session.begin():
        session.execute(update(RunWorker).where(RunWorker.id == worker_id).values(
            status=status, reason=reason, stats=stats, finished_at=datetime.now(timezone.utc)))


def beat_worker(database: Connected, worker_id: int, live: dict[str, Any], at: datetime | None = None) -> bool:
    """A distributed worker's heartbeat: its last sign of life and its own counts so far (False: closed already)."""
    with Session(database.engine) as session, session.begin():
        result = session.execute(update(RunWorker).where(RunWorker.id == worker_id, RunWorker.status == "running")
                                 .values(heartbeat_at=at or datetime.now(timezone.utc), live=live))
        return bool(result.rowcount)


WORKER_DEAD_REASON = "the worker stopped beating without closing (killed?)"
_COUNTED = ("cascrawl/", "downloader/", "item_")  # the counts summed over workers (not times, not maxima)


def worker_stale(worker: dict[str, Any], now: datetime | None = None) -> bool:
    """A `running` worker silent for STALE_BEATS of its heartbeat intervals. The run lock cannot tell (the
    workers share it), so only a worker that did beat is judged: one without any heartbeat (heartbeats off,
    or recorded before 0012_run_truth) stays `running` until the last worker closes the run."""
    if worker.get("status") != "running" or worker.get("heartbeat_at") is None:
        return False
    return heartbeat_stale({"status": "running", "heartbeat_at": worker["heartbeat_at"], "live": worker.get("live")}, now)


def workers_as_they_are(workers: list[dict[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
    """The workers of a distributed run as they are now: a silent one `interrupted` (dead), a running one with
    its heartbeat's counts as its stats."""
    found = []
    for worker in workers:
        if worker_stale(worker, now):
            worker = {**worker, "status": "interrupted", "reason": worker.get("reason") or WORKER_DEAD_REASON}
        found.append(with_live_counts(worker))
    return found


def summed_counts(workers: list[dict[str, Any]]) -> dict[str, Any]:
    """A distributed run's counts so far: every count of its workers' stats (live ones: their last beat's), summed."""
    totals: dict[str, Any] = {}
    for worker in workers:
        for key, value in (worker.get("stats") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key.startswith(_COUNTED):
                totals[key] = totals.get(key, 0) + value
    return totals


def interrupt_workers(database: Connected, run_id: int) -> int:
    """Workers of a run still `running` when its last worker closes it were killed."""
    with Session(database.engine) as session, session.begin():
        result = session.execute(update(RunWorker).where(RunWorker.run_id == run_id, RunWorker.status == "running")
                                 .values(status="interrupted", reason="the process ended without closing (killed?)"))
        return result.rowcount or 0


def run_workers(database: Connected, run_id: int) -> list[dict[str, Any]]:
    return workers_of(database, [run_id]).get(run_id, [])


def workers_of(database: Connected, run_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The workers' rows of these runs, as written ({run id: rows in the order they joined}); lone runs have none."""
    if not run_ids:
        return {}
    found: dict[int, list[dict[str, Any]]] = {}
    with Session(database.engine) as session:
        rows = session.scalars(select(RunWorker).where(RunWorker.run_id.in_(run_ids)).order_by(RunWorker.id))
        for row in rows:
            found.setdefault(row.run_id, []).append(
                {"worker": row.worker, "status": row.status, "reason": row.reason, "started_at": row.started_at,
                 "finished_at": row.finished_at, "stats": row.stats, "heartbeat_at": row.heartbeat_at,
                 "live": row.live})
    return found


# --- rejects ---

def add_rejects(database: Connected, rows: list[dict[str, Any]], run_id: int | None = None) -> None:
    """Rows of url, reason (code), detail, seen_at (aware)."""
    if not rows:
        return
    with Session(database.engine) as session, session.begin():
        session.add_all(Reject(run_id=run_id, **row) for row in rows)


def count_rejects(database: Connected) -> int:
    with Session(database.engine) as session:
        return session.scalar(select(func.count()).select_from(Reject)) or 0
