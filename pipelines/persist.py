"""Articles upserted by canonical URL in batches; rejected items written to `rejects` and put on the
re-fetch schedule; one `crawl_runs` row per crawl; each section's walk recorded (`section_walks`).

Batches are flushed every CASCRAWL_DB_BATCH_SIZE articles, every CASCRAWL_DB_FLUSH_SECONDS seconds
(if anything is waiting) and when the spider closes. A flush runs in a thread of its own (one
thread: flushes never overlap), so a slow commit does not stall the Twisted reactor: downloads and
parsing go on meanwhile. Only the item that fills a batch waits for its commit (process_item returns
an awaitable then), which keeps memory bounded when the database is slower than the crawl.

Nothing fetched is thrown away silently. A failed write is classified first (cascrawl/db/store.py:
error_kind). A connection reason (server down, network cut) or a SQLite file locked by another writer
keeps its items, pauses fetching (one pause, however many writes failed) and tries again with back-off
for up to CASCRAWL_DB_OUTAGE_SECONDS; the same holds at the start of a run. A full disk, a read-only
file system, a permission refused or a corrupt database is not waited for: fetching stops at once.
If the database is still away after the outage time, or cannot be written, everything pending goes
to a spool file (cascrawl/spool.py, in the first spool directory with room) that the next run writes
first; if no spool directory can take it either, the articles are counted and named as lost (the
log lists their URLs): they are not stored, so the next run fetches them again.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet import defer, task, threads
from twisted.python.threadpool import ThreadPool

import cascrawl
from cascrawl.db import Database, RunLock, RunLocked, UpsertResult, safe_url
from cascrawl.db.store import LOCKED, OUTAGE, STORAGE, error_kind
from cascrawl.db import frontier
from cascrawl.health import coverage_record
from cascrawl.db.media import record_media
from cascrawl.distributed import REDIS_GIVE_UP_REASONS, Cluster, LeasingScheduler, scheduler_of
from cascrawl.engine import engine_of
from cascrawl.spool import Spool, SpoolUnwritable
from cascrawl.walk import WalkBook, walks_of

logger = logging.getLogger(__name__)

# Settings recorded with each run: the ones that change what is fetched and how it is stored.
RUN_SETTINGS = {
    "CASCRAWL_MAX_PAGES": "getint", "CASCRAWL_SCRIPT": "get", "CASCRAWL_DB_BATCH_SIZE": "getint",
    "CASCRAWL_DB_FLUSH_SECONDS": "getfloat", "CASCRAWL_DB_OUTAGE_SECONDS": "getfloat", "DOWNLOAD_DELAY": "getfloat", "CONCURRENT_REQUESTS_PER_DOMAIN": "getint",
    "ROBOTSTXT_OBEY": "getbool", "USER_AGENT": "get",
}


# New articles wait for the full-text index (cascrawl/db/fulltext.py; SQLite and PostgreSQL) until this many
# have been stored, or the run ends: indexing 1,000 at a time cost 15% more than all at once on SQLite, and
# keeps the end of a long run short (about 0.4 ms per article of 1,600 characters on SQLite, 1 ms on
# PostgreSQL).
_INDEX_EVERY = 1000


def json_safe(value: Any) -> Any:
    """Crawler stats as JSON: datetimes as ISO 8601 strings, anything else unknown as its str()."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


def is_outage(error: BaseException) -> bool:
    """A failure that goes away by itself (the connection, the server, a SQLite file locked by another
    writer), not of the rows nor of the storage: worth waiting out."""
    return error_kind(error)[0] in (OUTAGE, LOCKED)


class StartRefused(RunLocked):
    """The run could not start writing (the database stayed locked or away, or cannot be written):
    nothing was fetched; the message says why, in one line (printed like a run lock refusal)."""


def _log_on_terminal() -> bool:
    """Whether the log already streams to the terminal (--verbose, -s LOG_LEVEL, no LOG_FILE)."""
    return any(isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
               and getattr(handler, "stream", None) in (sys.stderr, sys.stdout) for handler in logging.root.handlers)


def _daemon_thread(*args, **kwargs) -> threading.Thread:
    return threading.Thread(*args, daemon=True, **kwargs)


def _sleep(seconds: float):
    from twisted.internet import reactor

    return maybe_deferred_to_future(task.deferLater(reactor, seconds))


class PersistPipeline:
    def __init__(self, crawler, database_url: str, batch_size: int, flush_seconds: float, auto_upgrade: bool,
                 outage_seconds: float = 300.0, spool_dir: str | None = None, reject_retry_max_days: float = 32.0):
        self.crawler = crawler
        self.stats = crawler.stats
        self.database_url = database_url
        self.batch_size = max(1, batch_size)
        self.flush_seconds = max(0.0, flush_seconds)
        self.auto_upgrade = auto_upgrade
        self.outage_seconds = max(0.0, outage_seconds)
        self.reject_retry_max_days = max(1.0, reject_retry_max_days)
        self.spool = Spool(spool_dir, database_url)
        self.database: Database | None = None
        self.lock: RunLock | None = None
        self.run_id: int | None = None
        self.pending: list[dict] = []
        self.pending_rejects: list[dict] = []
        self.failure: str | None = None  # why storing failed, if it did
        self.spooled = 0  # items written to the spool file instead of the database
        self.spool_files: list[str] = []  # where they are (a fallback directory when the first had no room)
        self.lost_urls: list[str] = []  # articles neither stored nor spooled: the next run fetches them
        self._outage_waiters: list[defer.Deferred] | None = None  # not None while an outage is ridden out
        self._walks_recorded: list[frontier.WalkProgress] = []  # the walk progress last written
        self._pool: ThreadPool | None = None
        self._timer: task.LoopingCall | None = None
        self._last_flush = time.monotonic()
        self._unindexed = 0  # articles inserted since the full-text index was last brought up to date
        self.shared: LeasingScheduler | None = None  # a distributed crawl: the scheduler holding the leases
        self._writing = False  # a distributed crawl's write loop is running (_write_soon)
        self.worker_row: int | None = None

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        pipeline = cls(
            crawler,
            settings.get("CASCRAWL_DATABASE_URL"),
            settings.getint("CASCRAWL_DB_BATCH_SIZE", 100),
            settings.getfloat("CASCRAWL_DB_FLUSH_SECONDS", 5.0),
            settings.getbool("CASCRAWL_DB_AUTO_UPGRADE", False),
            settings.getfloat("CASCRAWL_DB_OUTAGE_SECONDS", 300.0),
            settings.get("CASCRAWL_SPOOL_DIR") or None,
            settings.getfloat("CASCRAWL_REJECT_RETRY_MAX_DAYS", 32.0),
        )
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    # --- lifecycle ---

    async def open_spider(self):
        # Before any request: a database that cannot be used stops the crawl here (DatabaseError),
        # and so does another run crawling into the same database (RunLocked), or a database that stays
        # locked or away for the outage time, or cannot be written (StartRefused).
        self.shared = scheduler_of(self.crawler)
        if self.shared is not None and self.database_url.startswith("sqlite"):
            message = ("distributed crawling needs PostgreSQL: several workers cannot share a SQLite file safely")
            self.stats.set_value("cascrawl/run_locked", message)
            raise RunLocked(message)
        self.database = Database(self.database_url).open(auto_upgrade=self.auto_upgrade)
        # A distributed crawl's workers share the lock (and the run); a lone run holds it alone.
        self.lock = RunLock(self.database, shared=self.shared is not None)
        try:
            self.lock.acquire()
        except RunLocked as error:
            self.stats.set_value("cascrawl/run_locked", str(error))
            self.database.close()
            self.database = None
            raise
        try:
            if self.shared is not None:
                with self.shared.cluster.mutex():
                    self.run_id = self.shared.cluster.run_id()
                    if self.run_id is None or not self.database.rejoin_run(self.run_id):
                        self.run_id = None
                        self._start_run()
                        self.shared.cluster.set_run(self.run_id)
                    else:
                        self.stats.set_value("cascrawl/db/run_id", self.run_id)
                        logger.info("joined the shared crawl run %d", self.run_id)
                    self.worker_row = self.database.add_worker(self.run_id, self.shared.worker)
            else:
                await self._at_start("starting the run", self._start_run)
            await self._replay_spool()  # before the spider reads what is known
        except StartRefused as error:
            self.stats.set_value("cascrawl/run_locked", str(error))
            logger.error("%s", error)
            self._close_refused_run(str(error))
            raise
        self._sync_search()  # what a killed run stored but did not index
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="cascrawl-db")
        self._pool.threadFactory = _daemon_thread  # a crawl stopped at once must not wait for it at exit
        self._pool.start()
        if self.flush_seconds:
            self._timer = task.LoopingCall(self._flush_if_due)
            self._timer.start(self.flush_seconds, now=False)

    def _start_run(self) -> None:
        spider = self.crawler.spider
        settings = self.crawler.settings
        recorded = {name: getattr(settings, getter)(name) for name, getter in RUN_SETTINGS.items()}
        recorded["cascrawl_version"] = cascrawl.__version__
        if self.shared is not None:
            recorded["distributed"] = True
        if self.run_id is None:  # not made yet (_at_start may call this again after the row was made)
            self.run_id = self.database.start_run(
                base_url=getattr(spider, "base_url", settings.get("CASCRAWL_BASE_URL")),
                sections=list(getattr(spider, "sections", settings.getlist("CASCRAWL_SECTIONS"))),
                settings=json_safe(recorded),
                log_file=str(Path(settings["LOG_FILE"]).resolve()) if settings.get("LOG_FILE") else None,
            )
        self.stats.set_value("cascrawl/db/run_id", self.run_id)
        interrupted = frontier.interrupt_stale_runs(self.database, self.run_id)
        if interrupted:
            self.stats.set_value("cascrawl/db/runs_interrupted", interrupted)
            logger.warning("%d earlier run(s) ended without closing (killed?): marked interrupted", interrupted)

    async def _at_start(self, doing: str, function, *args):
        """Run a write of the run's start (in the reactor thread: nothing is fetched yet). A database locked
        by another writer or away is waited for, up to outage_seconds, and the terminal says so; a database
        that cannot be written, or still not there, refuses the run (StartRefused), and so does SIGINT or
        SIGTERM while waiting (the crawl's own handlers are not installed yet)."""
        where = safe_url(self.database_url)
        started, delay, stopped = None, 0.5, []
        previous = {number: signal.signal(number, lambda signum, _frame: stopped.append(signum))
                    for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            while True:
                try:
                    outcome = function(*args)
                    if stopped:
                        raise StartRefused(f"stopped by {signal.Signals(stopped[0]).name} before anything was fetched")
                except SQLAlchemyError as error:
                    kind, why = error_kind(error)
                    line = self.database.error_line(error)
                    if kind not in (OUTAGE, LOCKED) or self.outage_seconds <= 0:
                        raise StartRefused(f"cannot write to the database {where} ({why}: {line}) while {doing}; "
                                           "nothing was fetched") from None
                    now = time.monotonic()
                    if started is None:
                        started = now
                        self.stats.inc_value("cascrawl/db/start_waits")
                        self._tell(f"waiting for the database {where}: {why} ({line}); trying again for up to "
                                   f"{self.outage_seconds:.0f} s before {doing}")
                    if now - started >= self.outage_seconds:
                        raise StartRefused(f"the database {where} stayed {why} for {now - started:.0f} s ({line}) "
                                           f"while {doing}; nothing was fetched, try again later") from None
                    if not stopped:
                        await _sleep(min(delay, max(0.05, self.outage_seconds - (now - started))))
                    if stopped:
                        raise StartRefused(f"stopped by {signal.Signals(stopped[0]).name} while waiting for the "
                                           f"database {where} ({why}); nothing was fetched") from None
                    delay = min(delay * 2, 4.0)
                    continue
                if started is not None:
                    waited = time.monotonic() - started
                    self.stats.inc_value("cascrawl/db/start_wait_seconds", round(waited, 1))
                    self._tell(f"the database {where} answers again after {waited:.1f} s: the run goes on")
                return outcome
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _close_refused_run(self, reason: str) -> None:
        """A run refused after its row was made: close the row (best effort: the next run marks a row left
        running as interrupted), let go of the lock and the database."""
        try:
            if self.run_id is not None and self.shared is None:  # a shared run is the other workers' too
                self.database.finish_run(self.run_id, status="failed", reason=reason[:100],
                                         stats=json_safe(self.crawler.stats.get_stats()))
        except Exception as error:
            logger.warning("could not close crawl run %s: %s", self.run_id, self.database.error_line(error))
        try:
            self.lock.release()
        except Exception as error:
            logger.debug("releasing the run lock: %s", error)
        self.database.close()
        self.database = None  # spider_closed has nothing left to record

    def _tell(self, message: str) -> None:
        """A warning the operator must see while it lasts: in the log, and on the terminal too."""
        logger.warning("%s", message)
        if not _log_on_terminal():
            print(f"cascrawl: {message}", file=sys.stderr, flush=True)

    async def _replay_spool(self) -> None:
        """Write what earlier runs spooled, then remove their files. Bad lines are quarantined (Spool.read),
        a file that cannot be read is moved aside; neither stops the run."""
        bad, quarantined, unreadable = 0, [], []
        for path in self.spool.pending():
            try:
                contents = Spool.read(path)
            except OSError as error:
                unreadable.append(self._spool_unreadable(path, error))
                continue
            if contents.bad:
                bad += len(contents.bad)
                where = f"{path}.rejected"
                if contents.quarantine_error:  # the reasons are in the log line below all the same
                    where = f"the log (could not write {where}: {contents.quarantine_error})"
                quarantined.append(where)
                logger.warning("spool %s: %d bad lines, kept in %s: %s", path, len(contents.bad), where,
                               "; ".join(f"line {number}: {reason}" for number, reason in contents.bad))
            try:
                result = (await self._at_start(f"writing the spool {path}", self._write, contents.articles,
                                               contents.rejects))[0]
            except StartRefused:
                raise
            except Exception as error:  # records of a shape no check foresaw: never a reason to stop the run
                unreadable.append(self._spool_unreadable(path, error))
                continue
            try:
                path.unlink()
            except OSError as error:  # written: replaying it again later only stores the same rows again
                logger.warning("could not remove the spool %s after writing it: %s", path, error)
            self.stats.inc_value("cascrawl/db/spool_replayed_articles", result.stored)
            self.stats.inc_value("cascrawl/db/spool_replayed_rejects", len(contents.rejects))
            self.stats.inc_value("cascrawl/db/spool_replayed_inserted", result.inserted)
            logger.warning("replayed the spool %s: %d articles stored (%d new), %d rejects recorded",
                           path, result.stored, result.inserted, len(contents.rejects))
        if bad:
            self.stats.set_value("cascrawl/db/spool_bad_lines", bad)
            self.stats.set_value("cascrawl/db/spool_quarantine", quarantined)
        if unreadable:
            self.stats.set_value("cascrawl/db/spool_unreadable", unreadable)

    def _spool_unreadable(self, path: Path, error: Exception) -> str:
        """One line on a spool that cannot be read (or written): moved aside (or not) so that it never blocks a run."""
        if isinstance(error, OSError):
            problem = f"cannot be read ({error.strerror or error})"
        else:
            problem = f"could not be written ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
        try:
            moved = Spool.move_aside(path)
            line = f"{path} {problem}: moved aside to {moved}"
        except OSError as again:
            line = f"{path} {problem} nor moved aside ({again.strerror or again})"
        logger.error("spool %s", line)
        return line

    async def close_spider(self):
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        if self._pool is None:  # open_spider failed (the run lock, the database): nothing was written
            return
        # An outage may end with items still waiting: write until nothing is left (or all is spooled).
        while self.pending or self.pending_rejects or self._outage_waiters is not None:
            await self._flush()
        # A flush started by the timer may still be running: the pool runs jobs in order, one at a time,
        # so once this has run, every earlier flush has finished (and its stats are counted).
        if self.failure:
            await maybe_deferred_to_future(self._in_thread(lambda: None))
            stats = self.stats
            logger.error("in all: %d articles and %d rejects kept in the spool at %s; %d articles to fetch again%s",
                         stats.get_value("cascrawl/db/articles_spooled", 0), stats.get_value("cascrawl/db/rejects_spooled", 0),
                         ", ".join(self.spool_files) or "(none)", len(self.lost_urls),
                         (": " + " ".join(self.lost_urls)) if self.lost_urls else "")
        else:  # the full-text index takes this run's new articles in one go (search scanned them meanwhile)
            await maybe_deferred_to_future(self._in_thread(self._sync_search))

    def _sync_search(self) -> None:
        started = time.perf_counter()
        try:
            indexed = self.database.sync_search()
        except Exception as error:  # search stays complete (it scans what is not indexed); the next run retries
            logger.warning("could not update the full-text index: %s", self.database.error_line(error))
            return
        if indexed:
            self.stats.inc_value("cascrawl/db/search_indexed", indexed)
            self.stats.inc_value("cascrawl/db/search_index_seconds", round(time.perf_counter() - started, 3))
            logger.info("full-text index: %d articles indexed in %.2f s", indexed, time.perf_counter() - started)

    async def spider_closed(self, reason):
        """After close_spider (every batch written): record the walks, then close the run with its status
        and the crawler's stats."""
        if self.database is None or self.run_id is None:
            if self.shared is not None:
                self.shared.leave()
            return
        if self.failure:
            status, reason = "failed", self.failure
        else:
            status = "finished" if reason == "finished" else "stopped"
            if status == "finished" and self.crawler.stats.get_value("cascrawl/health/status") == "degraded":
                status = "degraded"  # a layout alarm (cascrawl.extensions.RunHealth)
        if self.shared is not None:
            await self._close_shared(status, reason)
            return
        # Only a run that ended by itself with everything written can prove a walk complete.
        final = status in ("finished", "degraded")
        walks = self._walks()
        incomplete = sorted(walk.section for walk in walks if not (final and walk.complete))
        self.stats.set_value("cascrawl/walks/complete", sorted(walk.section for walk in walks if final and walk.complete))
        self.stats.set_value("cascrawl/walks/incomplete", incomplete)
        stats = json_safe(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        try:
            if not self.failure:
                await maybe_deferred_to_future(self._in_thread(
                    frontier.record_walks, self.database, walks, self.run_id, final=final))
            await maybe_deferred_to_future(self._in_thread(
                self.database.finish_run, self.run_id, status=status, reason=reason[:100], stats=stats,
                coverage=coverage_record(stats)))
        except Exception as error:
            logger.error("could not record the end of crawl run %s: %s", self.run_id, self.database.error_line(error))
        finally:
            self._let_go()

    def _let_go(self) -> None:
        """The end of a run, whatever happened: the database thread, the run lock, the connections."""
        self._pool.stop()
        try:
            self.lock.release()
        except Exception as error:  # the server went away with the lock: it is released anyway
            logger.debug("releasing the run lock: %s", error)
        self.database.close()

    async def _close_shared(self, status: str, reason: str) -> None:
        """A worker of a distributed crawl leaves: its own row with its counts; the last one out closes the
        shared run — finished (walks recorded as complete, the run's Redis keys cleared) when the queue
        is empty, else stopped (the queue stays in Redis: workers started again go on from it)."""
        cluster: Cluster = self.shared.cluster
        if self.shared.redis_unavailable:
            await self._close_without_redis(status, reason)
            return
        try:
            await maybe_deferred_to_future(self._in_thread(
                self.database.finish_worker, self.worker_row, status=status, reason=reason[:100],
                stats=json_safe(self.crawler.stats.get_stats())))
            # Only now, with its row recorded, does this worker leave: whoever closes the run sums every row.
            self.shared.leave()
            # Workers that stopped answering are forgotten once their heartbeat expires; a worker that
            # still holds requests will close the run itself.
            deadline = time.monotonic() + cluster.timeout + 2
            while cluster.reclaim_dead() == 0 and cluster.workers() and not cluster.others_hold_leases() \
                    and time.monotonic() < deadline:
                await _sleep(0.5)
            with cluster.mutex():
                if cluster.run_id() != self.run_id:
                    logger.info("crawl run %s was closed by another worker", self.run_id)
                    return
                if cluster.workers():
                    logger.info("other workers go on with crawl run %s", self.run_id)
                    return
                self._close_shared_run(cluster, status, reason)
        except Exception as error:
            logger.error("could not record the end of crawl run %s: %s", self.run_id, self.database.error_line(error))
        finally:
            self.shared.leave()
            self._let_go()

    async def _close_without_redis(self, status: str, reason: str) -> None:
        """Redis is away, or came back without the run (cascrawl.distributed.LeasingScheduler): no worker can
        tell whether the crawl is done, so this one records its row and the run as stopped — unfinished, no
        walk complete. Workers started again rejoin the run from Redis if it still has it; else the next run
        walks the listings again from the database."""
        why = self.shared.given_up or "redis_outage"
        own = json_safe(self.crawler.stats.get_stats())
        try:
            await maybe_deferred_to_future(self._in_thread(
                self.database.finish_worker, self.worker_row, status=status, reason=reason[:100], stats=own))
            workers = await maybe_deferred_to_future(self._in_thread(self.database.run_workers, self.run_id))
            stats = json_safe(summed_stats(workers, self.crawler.stats.get_stats()))
            stats["cascrawl/walks/incomplete"] = sorted(walk.section for walk in self._walks())
            self.stats.set_value("cascrawl/walks/incomplete", stats["cascrawl/walks/incomplete"])
            await maybe_deferred_to_future(self._in_thread(
                self.database.finish_run, self.run_id, status="stopped", reason=why, stats=stats))
            logger.warning("crawl run %s left unfinished (%s): the next run goes on", self.run_id, why)
        except Exception as error:
            logger.error("could not record the end of crawl run %s: %s", self.run_id, self.database.error_line(error))
        finally:
            self.shared.leave()
            self._let_go()

    def _close_shared_run(self, cluster: Cluster, status: str, reason: str) -> None:
        queued = cluster.queued()
        done = queued == 0 and status in ("finished", "degraded")
        workers = self.database.run_workers(self.run_id)
        if done and any((row.get("stats") or {}).get("cascrawl/health/status") == "degraded" for row in workers):
            status = "degraded"
        if not done and status in ("finished", "degraded"):
            status, reason = "stopped", f"{queued} requests left in the shared queue"
        self.database.interrupt_workers(self.run_id)
        workers = self.database.run_workers(self.run_id)
        walks = self._spider_walks(cluster)
        # A worker that gave up on Redis dropped the requests it held for Redis (new article requests of a
        # listing page it had read): the shared walk state cannot vouch for them, so no walk is complete and
        # each is recorded with that as a page not read -- the next run reads every listing page again.
        gave_up = sorted(row["worker"] for row in workers if row.get("reason") in REDIS_GIVE_UP_REASONS)
        if gave_up:
            lost = f"requests held by worker {', '.join(gave_up)} when it lost Redis"
            walks = [replace(walk, complete=False, to_end=False, unread=(*walk.unread, lost)) for walk in walks]
            if done and status == "finished":
                status, reason = "degraded", f"worker {', '.join(gave_up)} lost Redis: listings walked again next run"
        stats = json_safe(summed_stats(workers, self.crawler.stats.get_stats()))
        stats["cascrawl/walks/complete"] = sorted(walk.section for walk in walks if done and walk.complete)
        stats["cascrawl/walks/incomplete"] = sorted(walk.section for walk in walks if not (done and walk.complete))
        self.stats.set_value("cascrawl/walks/incomplete", stats["cascrawl/walks/incomplete"])
        if not self.failure:
            frontier.record_walks(self.database, walks, self.run_id, final=done)
        self.database.finish_run(self.run_id, status=status, reason=reason[:100], stats=stats)
        if done:
            cluster.clear_run()
            logger.info("crawl run %s finished by %d worker(s); the shared queue is cleared", self.run_id, len(workers))
        else:
            logger.warning("crawl run %s %s with %d requests in the shared queue: workers started again go on "
                           "from there", self.run_id, status, queued)

    def _spider_walks(self, cluster: Cluster) -> list[frontier.WalkProgress]:
        return WalkBook.progress_of(list(cluster.walks().values()))

    def _walks(self) -> list[frontier.WalkProgress]:
        return walks_of(self.crawler).progress()

    # --- items ---

    def process_item(self, item):
        adapter = ItemAdapter(item)
        lease = None
        if self.shared is not None:  # the request's lease is released once this item is written
            lease = self.shared.hold(item, [adapter.get("fetched_url"), adapter.get("url")])
        if adapter.get("reject_reason"):
            self.pending_rejects.append({
                "_lease": lease,
                "url": adapter.get("fetched_url") or adapter.get("url"),
                "canonical_url": adapter.get("url") or adapter.get("fetched_url"),
                "section": adapter.get("section") or "",
                "reason": adapter["reject_reason"],
                "detail": adapter.get("reject_detail"),
                "seen_at": datetime.now(timezone.utc),
            })
            if self.shared is not None:
                self._write_soon()
            # Validation already logged it; DEBUG keeps the whole item out of the log.
            raise DropItem(f"rejected: {adapter['reject_reason']}", log_level="DEBUG")
        row = dict(adapter)  # a shallow copy: ItemAdapter.asdict's deep one cost 10x more, and the item is done
        if lease is not None:
            row["_lease"] = lease
        self.pending.append(row)
        if len(self.pending) >= self.batch_size:
            return self._flush_then(item)  # this item waits for its batch's commit; the reactor does not
        if self.shared is not None:
            self._write_soon()
        return item

    def _write_soon(self) -> None:
        """A distributed crawl writes as soon as the database thread is free (group commit: whatever
        arrived meanwhile goes in one batch), not by batch size or timer: a worker killed then has only
        its requests in flight and the batch being written to hand over, not a batch of fetched pages."""
        if self._writing or self._outage_waiters is not None:
            return
        self._writing = True

        async def write():
            try:
                while (self.pending or self.pending_rejects) and self._outage_waiters is None and not self.failure:
                    await self._flush()
            finally:
                self._writing = False

        deferred_from_coro(write())

    async def _flush_then(self, item):
        await self._flush()
        return item

    def _flush_if_due(self):
        if self._outage_waiters is not None:
            return
        if (self.pending or self.pending_rejects) and time.monotonic() - self._last_flush >= self.flush_seconds:
            self.stats.inc_value("cascrawl/db/flushes_on_timer")
            deferred_from_coro(self._flush())

    def _take(self) -> tuple[list[dict], list[dict]]:
        batch, self.pending = self.pending, []
        rejects, self.pending_rejects = self.pending_rejects, []
        return batch, rejects

    def _put_back(self, batch: list[dict], rejects: list[dict]) -> None:
        self.pending = batch + self.pending
        self.pending_rejects = rejects + self.pending_rejects

    async def _flush(self):
        if self._outage_waiters is not None:  # the outage loop writes everything once the database is back
            await self._wait_for_ride_out()
            return
        batch, rejects = self._take()
        if not batch and not rejects:
            return
        self._last_flush = time.monotonic()
        if self.failure:  # the database failed for good: keep what arrives in the spool
            self._spool(batch, rejects)
            return
        try:
            result, seconds = await self._write_in_thread(batch, rejects)
        except Exception as error:
            self._put_back(batch, rejects)
            if self._outage_waiters is not None:  # a ride-out began while this write waited: one pause
                await self._wait_for_ride_out()
            elif self.failure:  # the database failed for good while this write waited: spool it too
                self._database_failed(error)
            elif is_outage(error) and self.outage_seconds > 0 and self._engine_running():
                await self._ride_out(error)
            else:
                self._database_failed(error)
            return
        self._count(result, len(rejects), seconds)
        self._written(batch, rejects)

    async def _wait_for_ride_out(self) -> None:
        waiter = defer.Deferred()
        self._outage_waiters.append(waiter)
        await maybe_deferred_to_future(waiter)

    def _engine_running(self) -> bool:
        engine = engine_of(self.crawler)
        return bool(engine is not None and engine.running)

    async def _ride_out(self, error: Exception) -> None:
        """The database is away: pause fetching and try again with back-off, for up to outage_seconds."""
        self._outage_waiters = []
        engine = self.crawler.engine
        engine.pause()
        started = time.monotonic()
        self.stats.inc_value("cascrawl/db/outages")
        kind, why = error_kind(error)
        if kind == LOCKED:
            self.stats.set_value("cascrawl/db/outage_locked", True)
        self._tell(f"database {why} ({self.database.error_line(error)}): fetching paused, {len(self.pending)} "
                   f"articles kept; trying again for up to {self.outage_seconds:.0f} s")
        delay, last_error, recovered = 0.5, error, False
        while True:
            await _sleep(min(delay, max(0.05, self.outage_seconds - (time.monotonic() - started))))
            batch, rejects = self._take()
            try:
                result, seconds = await self._write_in_thread(batch, rejects)
            except Exception as again:
                self._put_back(batch, rejects)
                last_error = again
                if not is_outage(again) or time.monotonic() - started >= self.outage_seconds or not self._engine_running():
                    break
                delay = min(delay * 2, 4.0)  # a database back is noticed within seconds
                continue
            self._count(result, len(rejects), seconds)
            self._written(batch, rejects)
            recovered = True
            break
        waited = time.monotonic() - started
        self.stats.inc_value("cascrawl/db/outage_seconds", round(waited, 1))
        waiters, self._outage_waiters = self._outage_waiters, None
        if recovered:
            self._tell(f"database back after {waited:.1f} s: everything kept was written; fetching resumes")
            self._relock()
            engine.unpause()
        else:
            self._database_failed(last_error, waited)
        for waiter in waiters:
            waiter.callback(None)

    def _relock(self) -> None:
        """A PostgreSQL restart drops the advisory lock with its connection: take it again."""
        try:
            self.lock.reacquire()
        except Exception as error:
            self.stats.inc_value("cascrawl/db/lock_lost")
            logger.error("after the outage the run lock could not be taken again: %s", error)

    def _in_thread(self, function, *args, **kwargs):
        from twisted.internet import reactor  # the one Scrapy installed

        return threads.deferToThreadPool(reactor, self._pool, function, *args, **kwargs)

    async def _write_in_thread(self, batch: list[dict], rejects: list[dict]) -> tuple[UpsertResult, float]:
        """_write in the database thread, with the walks' progress when it changed since last written.
        The snapshot is taken here, in the reactor thread, where the spider updates the walks."""
        walks = self._walks()
        changed = walks if walks != self._walks_recorded else None
        outcome = await maybe_deferred_to_future(self._in_thread(self._write, batch, rejects, changed))
        if changed is not None:
            self._walks_recorded = changed
        return outcome

    def _write(self, batch: list[dict], rejects: list[dict],
               walks: list[frontier.WalkProgress] | None = None) -> tuple[UpsertResult, float]:
        """In the database thread: the articles (one transaction), then the rejects with their re-fetch
        schedule and the walk progress. Storing an article twice is harmless (upsert by URL), so a batch
        whose commit was lost can simply be written again."""
        started = time.perf_counter()
        database = self.database
        result = database.upsert_articles(batch, run_id=self.run_id)
        refused = {url for url, _, _ in result.rejected}
        stored = [row["url"] for row in batch if row.get("url") and row["url"] not in refused]
        database.add_rejects([{key: row[key] for key in ("url", "reason", "detail", "seen_at")} for row in rejects],
                             run_id=self.run_id)
        scheduled = [{"url": row.get("canonical_url") or row["url"], "fetched_url": row["url"],
                      "section": row.get("section"), "reason": row["reason"]} for row in rejects]
        sections = {row.get("url"): row.get("section") for row in batch}
        scheduled += [{"url": url, "fetched_url": url, "section": sections.get(url), "reason": reason}
                      for url, reason, _ in result.rejected]
        media = [(row["url"], row["media"]) for row in batch if row.get("media") and row["url"] not in refused]
        if media:  # the media archive is on: its records, and the articles whose files must be tried again
            record_media(database, media)
            retry = {url: reason for url, entries in media if (reason := frontier.media_retry_reason(entries))}
            scheduled += [{"url": url, "fetched_url": url, "section": sections.get(url), "reason": reason}
                          for url, reason in retry.items()]
            stored = [url for url in stored if url not in retry]
        frontier.schedule_refetches(database, scheduled, max_days=self.reject_retry_max_days)
        frontier.clear_refetches(database, stored)
        if walks is not None:
            frontier.record_walks(database, walks, self.run_id, final=False)
        self._unindexed += result.inserted
        if self._unindexed >= _INDEX_EVERY:  # here, in this thread, rather than all at the end of the run
            self._unindexed = 0
            self._sync_search()
        return result, time.perf_counter() - started

    def _written(self, batch: list[dict], rejects: list[dict]) -> None:
        if self.shared is not None:
            self.shared.written([row.get("_lease") for row in batch + rejects])

    def _count(self, result: UpsertResult, rejects: int, seconds: float) -> None:
        stats = self.stats
        stats.inc_value("cascrawl/db/flushes")
        stats.max_value("cascrawl/db/flush_seconds_max", round(seconds, 4))
        stats.inc_value("cascrawl/db/articles_upserted", result.stored)
        for name in ("inserted", "revised", "refreshed", "unchanged"):
            if getattr(result, name):
                stats.inc_value(f"cascrawl/db/articles_{name}", getattr(result, name))
        if result.rejected:
            stats.inc_value("cascrawl/db/articles_refused", len(result.rejected))
            for _, reason, _ in result.rejected:
                stats.inc_value(f"cascrawl/rejected/{reason}")
        if rejects:
            stats.inc_value("cascrawl/db/rejects_written", rejects)
        logger.info("stored %d articles (%d new, %d revised, %d refreshed, %d unchanged) in %.3f s",
                    result.stored, result.inserted, result.revised, result.refreshed, result.unchanged, seconds)

    def _spool(self, batch: list[dict], rejects: list[dict]) -> None:
        if not batch and not rejects:
            return
        rows = [{key: value for key, value in row.items() if key != "_lease"} for row in batch]
        kept_rejects = [{key: value for key, value in row.items() if key != "_lease"} for row in rejects]
        previous = Path(self.spool_files[-1]) if self.spool_files else None
        try:
            path, refusals = self.spool.keep(self.run_id, rows, kept_rejects, prefer=previous)
        except SpoolUnwritable as error:  # nowhere to keep them: lost here, and said so with their URLs
            urls = [row.get("url") or row.get("fetched_url") or "?" for row in batch]
            self.lost_urls.extend(urls)
            self.stats.inc_value("cascrawl/db/articles_lost", len(batch))
            self.stats.inc_value("cascrawl/db/rejects_lost", len(rejects))
            self.stats.set_value("cascrawl/db/lost_urls", list(self.lost_urls))
            self.stats.set_value("cascrawl/db/spool_refusals", error.refusals)
            logger.error("could not keep %d articles and %d rejects anywhere (%s): not stored, the next run fetches "
                         "them again: %s", len(batch), len(rejects), error, " ".join(urls))
            return
        if refusals:
            logger.warning("spool directories without room (%s): kept in %s instead", "; ".join(refusals), path)
        if str(path) not in self.spool_files:
            self.spool_files.append(str(path))
        self.spooled += len(batch) + len(rejects)
        self._written(batch, rejects)  # kept on this host's disk: the next run here writes them
        self.stats.inc_value("cascrawl/db/articles_spooled", len(batch))
        self.stats.inc_value("cascrawl/db/rejects_spooled", len(rejects))
        self.stats.set_value("cascrawl/db/spooled", self.spooled)
        self.stats.set_value("cascrawl/db/spool_file", str(path))
        self.stats.set_value("cascrawl/db/spool_files", list(self.spool_files))

    def _database_failed(self, error: Exception, waited: float | None = None) -> None:
        """The database failed for good (still away after the outage time, or cannot be written, or refusing
        writes): keep everything pending in the spool and stop the crawl at once rather than fetch for nothing."""
        from twisted.internet import reactor

        batch, rejects = self._take()
        if self.failure:  # already failing: what arrives goes to the spool
            self._spool(batch, rejects)
            return
        kind, why = error_kind(error)
        line = self.database.error_line(error)
        if kind in (OUTAGE, LOCKED):
            failure = f"the database stayed away ({why}) for {waited or 0:.0f} s: {line}"
        elif kind == STORAGE:
            failure = f"the database cannot be written ({why}): {line}"
        else:
            failure = f"the database refused the writes: {line}"
        self.failure = f"database error: {line}"[:100]
        self.stats.set_value("cascrawl/db/failure", failure)
        self.stats.set_value("cascrawl/db/failure_kind", kind)
        engine = engine_of(self.crawler)
        if engine is not None and engine.running:
            engine.pause()  # nothing more is fetched; what is in flight still arrives, and is kept too
        lost_before = len(self.lost_urls)
        self._spool(batch, rejects)
        kept = (f"{len(self.lost_urls)} articles to fetch again" if len(self.lost_urls) > lost_before
                else f"{len(batch)} articles kept in the spool at {self.spool_files[-1]}" if self.spool_files
                else "nothing was pending")
        logger.error("could not store articles: %s; %s for the next run; closing the spider", failure, kept)
        reactor.callLater(0, lambda: deferred_from_coro(self.crawler.engine.close_spider_async(reason="database_error")))


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
                                                  "stored": int((row.get("stats") or {}).get("cascrawl/db/articles_upserted", 0)),
                                                  "requests": int((row.get("stats") or {}).get("downloader/request_count", 0))}
                                  for row in workers}
    return totals
