"""A worker's part in a distributed crawl's one run record: joining the shared run (or starting it), and
leaving it — its own row with its counts; the last one out closes the run, its stats summed over the
workers' rows. The cluster and its scheduler are cascrawl.distributed's; this is what the run record
(cascrawl/run/record.py) does with them."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from cascrawl import stats_keys
from cascrawl.db import Database, frontier
from cascrawl.distributed import REDIS_GIVE_UP_REASONS, Cluster, LeasingScheduler
from cascrawl.run.outage import sleep as _sleep
from cascrawl.run.snapshot import json_safe
from cascrawl.run.verdict import shared_run_problems, shared_run_verdict
from cascrawl.walk import WalkBook

logger = logging.getLogger(__name__)


async def join_shared_run(shared: LeasingScheduler, database: Database, stats, start_run) -> tuple[int, int]:
    """(the shared run's id, this worker's row): the run Redis names, rejoined, or a new one made by
    `start_run()` (which returns its id) when there is none (or the database does not have it). The run's
    mutex is waited for without blocking the reactor."""
    async with shared.cluster.mutex_async():
        run_id = shared.cluster.run_id()
        if run_id is None or not database.rejoin_run(run_id):
            run_id = start_run()
            shared.cluster.set_run(run_id)
        else:
            stats.set_value(stats_keys.RUN_ID, run_id)
            logger.info("joined the shared crawl run %d", run_id)
        worker_row = database.add_worker(run_id, shared.worker)
    return run_id, worker_row


class SharedRunClose:
    """The end of one worker of a distributed crawl. `in_thread(function, *args, **kwargs)` runs a database
    call off the reactor (awaitable); `walks()` is this worker's walk progress; `failure` why storing failed,
    if it did; `let_go()` releases the database thread, the run lock and the connections; `recorded(**end)`
    tells the crawl's listeners (the notifier) how the run ended, when this worker closed it."""

    def __init__(self, shared: LeasingScheduler, database: Database, run_id: int, worker_row: int | None, stats,
                 in_thread, walks, failure: str | None, let_go, recorded=None):
        self.shared = shared
        self.database = database
        self.run_id = run_id
        self.worker_row = worker_row
        self.stats = stats
        self.in_thread = in_thread
        self.walks = walks
        self.failure = failure
        self.let_go = let_go
        # Awaited (run_id, status, reason, problems, stats) once the last worker closed the run: the run
        # record's `run_recorded` signal, so the shared run is notified as a lone one is.
        self.recorded = recorded

    async def close_shared(self, status: str, reason: str) -> None:
        """A worker of a distributed crawl leaves: its own row with its counts; the last one out closes the
        shared run — finished (walks recorded as complete, the run's Redis keys cleared) when the queue
        is empty, else stopped (the queue stays in Redis: workers started again go on from it)."""
        cluster: Cluster = self.shared.cluster
        if self.shared.redis_unavailable:
            await self.close_without_redis(status, reason)
            return
        try:
            await self.in_thread(
                self.database.finish_worker, self.worker_row, status=status, reason=reason[:100],
                stats=json_safe(self.stats.get_stats()))
            # Only now, with its row recorded, does this worker leave: whoever closes the run sums every row.
            self.shared.leave()
            # Workers that stopped answering are forgotten once their heartbeat expires; a worker that
            # still holds requests will close the run itself.
            deadline = time.monotonic() + cluster.timeout + 2
            while cluster.reclaim_dead() == 0 and cluster.workers() and not cluster.others_hold_leases() \
                    and time.monotonic() < deadline:
                await _sleep(0.5)
            async with cluster.mutex_async():
                if cluster.run_id() != self.run_id:
                    logger.info("crawl run %s was closed by another worker", self.run_id)
                    return
                if cluster.workers():
                    logger.info("other workers go on with crawl run %s", self.run_id)
                    return
                end = self.close_shared_run(cluster, status, reason)
            if self.recorded is not None:  # the last one out: the run's end is told as a lone run's is
                await self.recorded(run_id=self.run_id, **end)
        except Exception as error:
            logger.error("could not record the end of crawl run %s: %s", self.run_id, self.database.error_line(error))
        finally:
            self.shared.leave()
            self.let_go()

    async def close_without_redis(self, status: str, reason: str) -> None:
        """Redis is away, or came back without the run (cascrawl.distributed.LeasingScheduler): no worker can
        tell whether the crawl is done, so this one records its row and the run as stopped — unfinished, no
        walk complete. Workers started again rejoin the run from Redis if it still has it; else the next run
        walks the listings again from the database."""
        why = self.shared.given_up or "redis_outage"
        own = json_safe(self.stats.get_stats())
        try:
            await self.in_thread(
                self.database.finish_worker, self.worker_row, status=status, reason=reason[:100], stats=own)
            workers = await self.in_thread(self.database.run_workers, self.run_id)
            stats = json_safe(summed_stats(workers, self.stats.get_stats()))
            stats[stats_keys.WALKS_INCOMPLETE] = sorted(walk.section for walk in self.walks())
            self.stats.set_value(stats_keys.WALKS_INCOMPLETE, stats[stats_keys.WALKS_INCOMPLETE])
            await self.in_thread(
                self.database.finish_run, self.run_id, status="stopped", reason=why, stats=stats)
            logger.warning("crawl run %s left unfinished (%s): the next run goes on", self.run_id, why)
        except Exception as error:
            logger.error("could not record the end of crawl run %s: %s", self.run_id, self.database.error_line(error))
        finally:
            self.shared.leave()
            self.let_go()

    def close_shared_run(self, cluster: Cluster, status: str, reason: str) -> dict:
        """The last worker closes the run; its end as recorded: status, reason, problems, stats."""
        queued = cluster.queued()
        self.database.interrupt_workers(self.run_id)
        workers = self.database.run_workers(self.run_id)
        walks = self.spider_walks(cluster)
        # A worker that gave up on Redis dropped the requests it held for Redis (new article requests of a
        # listing page it had read): the shared walk state cannot vouch for them, so no walk is complete and
        # each is recorded with that as a page not read -- the next run reads every listing page again.
        gave_up = sorted(row["worker"] for row in workers if row.get("reason") in REDIS_GIVE_UP_REASONS)
        if gave_up:
            lost = f"requests held by worker {', '.join(gave_up)} when it lost Redis"
            walks = [replace(walk, complete=False, to_end=False, unread=(*walk.unread, lost)) for walk in walks]
        status, reason, done = shared_run_verdict(status, reason, queued, workers, gave_up)
        own = self.stats.get_value(stats_keys.VERDICT_PROBLEMS) or []
        stats = json_safe(summed_stats(workers, self.stats.get_stats()))
        # Every worker's problems (from its row), the workers that died, the requests left: the run's.
        stats[stats_keys.VERDICT_PROBLEMS] = json_safe(shared_run_problems(workers, own, queued, gave_up))
        stats["cascrawl/walks/complete"] = sorted(walk.section for walk in walks if done and walk.complete)
        stats[stats_keys.WALKS_INCOMPLETE] = sorted(walk.section for walk in walks if not (done and walk.complete))
        self.stats.set_value(stats_keys.WALKS_INCOMPLETE, stats[stats_keys.WALKS_INCOMPLETE])
        if not self.failure:
            frontier.record_walks(self.database, walks, self.run_id, final=done)
        self.database.finish_run(self.run_id, status=status, reason=reason[:100], stats=stats)
        if done:
            cluster.clear_run()
            logger.info("crawl run %s finished by %d worker(s); the shared queue is cleared", self.run_id, len(workers))
        else:
            logger.warning("crawl run %s %s with %d requests in the shared queue: workers started again go on "
                           "from there", self.run_id, status, queued)
        return {"status": status, "reason": reason[:100], "problems": stats[stats_keys.VERDICT_PROBLEMS], "stats": stats}

    def spider_walks(self, cluster: Cluster) -> list[frontier.WalkProgress]:
        return WalkBook.progress_of(list(cluster.walks().values()))


def summed_stats(workers: list[dict], own: dict) -> dict:
    """A distributed run's stats: this worker's, with every count summed over the workers' rows."""
    totals = dict(own)
    numbers: dict[str, float] = {}
    for row in workers:
        for key, value in (row.get("stats") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not key.endswith(("_max", "run_id")):
                numbers[key] = numbers.get(key, 0) + value
    totals.update(numbers)
    totals["cascrawl/workers"] = {row["worker"]: {"status": row["status"],
                                                  "stored": int((row.get("stats") or {}).get(stats_keys.ARTICLES_UPSERTED, 0)),
                                                  "requests": int((row.get("stats") or {}).get(stats_keys.REQUEST_COUNT, 0))}
                                  for row in workers}
    return totals
