"""The run record, an extension (EXTENSIONS in cascrawl/settings.py): one `crawl_runs` row per crawl, the run
lock (taken again after an outage), the spool of earlier runs written first, and at the end — in one
explicit order, not the order Scrapy happens to call signal handlers in — the health check, the verdict,
the walks and the run's row.

Independent of the item pipelines: the persist pipeline (pipelines/persist.py) finds it through the crawler
(`run_record_of`), awaits `open()` before its first write (the pipelines open before `spider_opened`) and
attaches itself, so that the shutdown waits for its last flush and reads whether storing failed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import CloseSpider

from cascrawl import stats_keys
import cascrawl
from cascrawl.db import Database, RunLock, RunLocked, frontier
from cascrawl.distributed import LeasingScheduler, scheduler_of
from cascrawl.health import coverage_record
from cascrawl.run.healthcheck import RunHealth
from cascrawl.run.outage import StartRefused, wait_at_start
from cascrawl.run.replay import replay_spool
from cascrawl.run.shared import SharedRunClose, join_shared_run
from cascrawl.run.snapshot import json_safe
from cascrawl.run.thread import DatabaseThread
from cascrawl.run.verdict import Verdict, verdict
from cascrawl.run.writes import BatchWriter
from cascrawl.spool import Spool
from cascrawl.walk import walks_of

logger = logging.getLogger(__name__)

# Sent once the run's row is written (kwargs: run_id, status, reason, problems, stats): cascrawl/run/notify.py.
run_recorded = object()

# Settings recorded with each run: the ones that change what is fetched and how it is stored.
RUN_SETTINGS = {
    "CASCRAWL_MAX_PAGES": "getint", "CASCRAWL_SCRIPT": "get", "CASCRAWL_DB_BATCH_SIZE": "getint",
    "CASCRAWL_DB_FLUSH_SECONDS": "getfloat", "CASCRAWL_DB_OUTAGE_SECONDS": "getfloat", "DOWNLOAD_DELAY": "getfloat", "CONCURRENT_REQUESTS_PER_DOMAIN": "getint",
    "ROBOTSTXT_OBEY": "getbool", "USER_AGENT": "get",
    # The crawl's mode (cascrawl/run/mode.py): incremental or full, and re-fetching recent articles.
    "CASCRAWL_INCREMENTAL": "getbool", "CASCRAWL_REFRESH_DAYS": "getint",
}


def run_record_of(crawler) -> RunRecord:
    """The crawl's run record; a crawler without it cannot store anything."""
    record = crawler.get_extension(RunRecord)
    if record is None:
        raise RuntimeError("storing a crawl needs the run record: add cascrawl.run.record.RunRecord to EXTENSIONS")
    return record


class RunRecord:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        self.database_url: str = settings.get("CASCRAWL_DATABASE_URL")
        self.auto_upgrade = settings.getbool("CASCRAWL_DB_AUTO_UPGRADE")
        self.outage_seconds = max(0.0, settings.getfloat("CASCRAWL_DB_OUTAGE_SECONDS"))
        self.reject_retry_max_days = settings.getfloat("CASCRAWL_REJECT_RETRY_MAX_DAYS")
        self.spool = Spool(settings.get("CASCRAWL_SPOOL_DIR") or None, self.database_url)
        self.health = RunHealth(crawler)
        self.database: Database | None = None
        self.lock: RunLock | None = None
        self.run_id: int | None = None
        self.shared: LeasingScheduler | None = None  # a distributed crawl: the scheduler holding the leases
        self.worker_row: int | None = None  # a distributed crawl: this worker's row of the run
        self.writer = None  # the persist pipeline, once open (attach)
        self.verdict: Verdict | None = None  # how the run went, decided at its end
        self._open_tried = False
        self._walks_recorded: list[frontier.WalkProgress] = []  # the walk progress last written
        self._thread: DatabaseThread | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    # --- the start ---

    async def open(self) -> None:
        """Before any request: a database that cannot be used stops the crawl here (DatabaseError), and so
        does another run crawling into the same database (RunLocked), or a database that stays locked or
        away for the outage time, or cannot be written (StartRefused). Then the run's row (or, distributed,
        the shared run joined) and the spool of earlier runs written. Once only."""
        if self._open_tried:
            return
        self._open_tried = True
        self.shared = scheduler_of(self.crawler)
        if self.shared is not None and self.database_url.startswith("sqlite"):
            message = ("distributed crawling needs PostgreSQL: several workers cannot share a SQLite file safely")
            self.stats.set_value(stats_keys.RUN_LOCKED, message)
            raise RunLocked(message)
        self.database = Database(self.database_url).open(auto_upgrade=self.auto_upgrade)
        # A distributed crawl's workers share the lock (and the run); a lone run holds it alone.
        self.lock = RunLock(self.database, shared=self.shared is not None)
        try:
            self.lock.acquire()
        except RunLocked as error:
            self.stats.set_value(stats_keys.RUN_LOCKED, str(error))
            self.database.close()
            self.database = None
            raise
        try:
            if self.shared is not None:
                self.run_id, self.worker_row = await join_shared_run(self.shared, self.database, self.stats, self._start_run)
            else:
                await wait_at_start(self.database, self.outage_seconds, self.stats, "starting the run", self._start_run)
            writer = BatchWriter(self.database, self.run_id, self.stats, self.reject_retry_max_days)
            await replay_spool(self.spool, writer, self.outage_seconds, self.stats)  # before the spider reads what is known
        except StartRefused as error:
            self.stats.set_value(stats_keys.RUN_LOCKED, str(error))
            logger.error("%s", error)
            self._close_refused_run(str(error))
            raise
        writer.sync_search()  # what a killed run stored but did not index
        self._thread = DatabaseThread("cascrawl-run")

    async def spider_opened(self) -> None:
        """A crawl without the persist pipeline still gets its record (no pipeline opened it first)."""
        if self._open_tried:
            return
        try:
            await self.open()
        except RunLocked as error:  # StartRefused too: said already, in the stats and the log
            logger.error("%s", error)
            raise CloseSpider("run_locked") from None

    def _start_run(self) -> int:
        settings = self.crawler.settings
        recorded = {name: getattr(settings, getter)(name) for name, getter in RUN_SETTINGS.items()}
        recorded["cascrawl_version"] = cascrawl.__version__
        if self.shared is not None:
            recorded["distributed"] = True
        if self.run_id is None:  # not made yet (wait_at_start may call this again after the row was made)
            self.run_id = self.database.start_run(
                base_url=walks_of(self.crawler).base_url or settings.get("CASCRAWL_BASE_URL"),
                sections=list(walks_of(self.crawler).sections or settings.getlist("CASCRAWL_SECTIONS")),
                settings=json_safe(recorded),
                log_file=str(Path(settings["LOG_FILE"]).resolve()) if settings.get("LOG_FILE") else None,
            )
        self.stats.set_value(stats_keys.RUN_ID, self.run_id)
        interrupted = frontier.interrupt_stale_runs(self.database, self.run_id)
        if interrupted:
            self.stats.set_value("cascrawl/db/runs_interrupted", interrupted)
            logger.warning("%d earlier run(s) ended without closing (killed?): marked interrupted", interrupted)
        return self.run_id

    def _close_refused_run(self, reason: str) -> None:
        """A run refused after its row was made: close the row (best effort: the next run marks a row left
        running as interrupted), let go of the lock and the database."""
        try:
            if self.run_id is not None and self.shared is None:  # a shared run is the other workers' too
                refused = verdict(self.stats.get_stats(), failure=reason)
                self.stats.set_value(stats_keys.VERDICT_PROBLEMS, list(refused.problems))
                self.database.finish_run(self.run_id, status=refused.status, reason=refused.reason[:100],
                                         stats=json_safe(self.stats.get_stats()))
        except Exception as error:
            logger.warning("could not close crawl run %s: %s", self.run_id, self.database.error_line(error))
        try:
            self.lock.release()
        except Exception as error:
            logger.debug("releasing the run lock: %s", error)
        self.database.close()
        self.database = None  # spider_closed has nothing left to record

    # --- during the crawl (the persist pipeline) ---

    def attach(self, writer) -> None:
        """The persist pipeline, open: the end of the run waits for `writer.closed()` and reads `writer.failure`."""
        self.writer = writer

    def unrecorded_walks(self) -> list[frontier.WalkProgress] | None:
        """The walks' progress if it changed since last written (taken in the reactor thread, where the
        spider moves the walks), else None; `walks_recorded` once written."""
        walks = walks_of(self.crawler).progress()
        return walks if walks != self._walks_recorded else None

    def walks_recorded(self, walks: list[frontier.WalkProgress]) -> None:
        self._walks_recorded = walks

    def relock(self) -> None:
        """After an outage: a PostgreSQL restart drops the advisory lock with its connection: take it again."""
        try:
            self.lock.reacquire()
        except Exception as error:
            self.stats.inc_value("cascrawl/db/lock_lost")
            logger.error("after the outage the run lock could not be taken again: %s", error)

    # --- the end ---

    async def spider_closed(self, reason: str) -> None:
        """The end of the run, in this order:
        1. the persist pipeline's last flush has ended (every batch written, or spooled);
        2. the health check: layout alarms and listing pages not read, into the stats;
        3. the verdict: the run's status, reason and problems (cascrawl/run/verdict.py), the problems into
           the stats (`cascrawl/verdict/problems`);
        4. the walks recorded, complete only if the verdict lets the run prove it;
        5. the run's row closed with its status and stats (a distributed worker: its own row, then the
           shared run if it is the last one out, cascrawl/run/shared.py);
        6. the database thread, the run lock and the connections let go."""
        if self.writer is not None:
            await self.writer.closed()
        try:
            self.health.check()
        except Exception:  # a bug in a check must not leave the run's row open and its lock held
            logger.exception("the end-of-run health check failed")
        if self.database is None or self.run_id is None:  # the run never started: nothing to record
            if self.shared is not None:
                self.shared.leave()
            return
        failure = self.writer.failure if self.writer is not None else None
        self.verdict = verdict(self.stats.get_stats(), reason, failure)
        status, reason = self.verdict.status, self.verdict.reason
        # The verdict's problems go with the run's stats: every reader shows these (recorded_problems).
        self.stats.set_value(stats_keys.VERDICT_PROBLEMS, list(self.verdict.problems))
        if self.shared is not None:
            await SharedRunClose(self.shared, self.database, self.run_id, self.worker_row, self.stats, self._thread.run,
                                 lambda: walks_of(self.crawler).progress(), failure, self._let_go,
                                 self._recorded).close_shared(status, reason)
            return
        final = self.verdict.proves_walks
        walks = walks_of(self.crawler).progress()
        incomplete = sorted(walk.section for walk in walks if not (final and walk.complete))
        self.stats.set_value("cascrawl/walks/complete", sorted(walk.section for walk in walks if final and walk.complete))
        self.stats.set_value(stats_keys.WALKS_INCOMPLETE, incomplete)
        stats = json_safe(self.stats.get_stats())
        stats.setdefault(stats_keys.FINISH_REASON, reason)
        try:
            if not failure:
                await self._thread.run(frontier.record_walks, self.database, walks, self.run_id, final=final)
            await self._thread.run(self.database.finish_run, self.run_id, status=status, reason=reason[:100],
                                   stats=stats, coverage=coverage_record(stats))
            await self._recorded(run_id=self.run_id, status=status, reason=reason,
                                 problems=stats.get(stats_keys.VERDICT_PROBLEMS, list(self.verdict.problems)), stats=stats)
        except Exception as error:
            logger.error("could not record the end of crawl run %s: %s", self.run_id, self.database.error_line(error))
        finally:
            self._let_go()

    async def _recorded(self, **end) -> None:
        """The run's row is written: `run_recorded` (run_id, status, reason, problems, stats) to its listeners."""
        await self.crawler.signals.send_catch_log_async(signal=run_recorded, **end)

    def _let_go(self) -> None:
        """The end of a run, whatever happened: the database thread, the run lock, the connections."""
        self._thread.stop()
        try:
            self.lock.release()
        except Exception as error:  # the server went away with the lock: it is released anyway
            logger.debug("releasing the run lock: %s", error)
        self.database.close()
