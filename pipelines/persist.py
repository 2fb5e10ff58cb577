"""Articles upserted by canonical URL in batches; rejected items written to `rejects`; one `crawl_runs` row per crawl.

Batches are flushed every CASCRAWL_DB_BATCH_SIZE articles, every CASCRAWL_DB_FLUSH_SECONDS seconds
(if anything is waiting) and when the spider closes. A flush runs in a thread of its own (one
thread: flushes never overlap), so a slow commit does not stall the Twisted reactor: downloads and
parsing go on meanwhile. Only the item that fills a batch waits for its commit (process_item returns
an awaitable then), which keeps memory bounded when the database is slower than the crawl.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import task, threads
from twisted.python.threadpool import ThreadPool

import cascrawl
from cascrawl.db import Database, RunLock, RunLocked, UpsertResult

logger = logging.getLogger(__name__)

# Settings recorded with each run: the ones that change what is fetched and how it is stored.
RUN_SETTINGS = {
    "CASCRAWL_MAX_PAGES": "getint", "CASCRAWL_SCRIPT": "get", "CASCRAWL_DB_BATCH_SIZE": "getint",
    "CASCRAWL_DB_FLUSH_SECONDS": "getfloat", "DOWNLOAD_DELAY": "getfloat", "CONCURRENT_REQUESTS_PER_DOMAIN": "getint",
    "ROBOTSTXT_OBEY": "getbool", "USER_AGENT": "get",
}


def json_safe(value: Any) -> Any:
    """Crawler stats as JSON: datetimes as ISO 8601 strings, anything else unknown as its str()."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


class PersistPipeline:
    def __init__(self, crawler, database_url: str, batch_size: int, flush_seconds: float, auto_upgrade: bool):
        self.crawler = crawler
        self.stats = crawler.stats
        self.database_url = database_url
        self.batch_size = max(1, batch_size)
        self.flush_seconds = max(0.0, flush_seconds)
        self.auto_upgrade = auto_upgrade
        self.database: Database | None = None
        self.run_id: int | None = None
        self.pending: list[dict] = []
        self.pending_rejects: list[dict] = []
        self.failure: str | None = None  # why storing failed, if it did
        self._pool: ThreadPool | None = None
        self._timer: task.LoopingCall | None = None
        self._last_flush = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        pipeline = cls(
            crawler,
            settings.get("CASCRAWL_DATABASE_URL"),
            settings.getint("CASCRAWL_DB_BATCH_SIZE", 100),
            settings.getfloat("CASCRAWL_DB_FLUSH_SECONDS", 5.0),
            settings.getbool("CASCRAWL_DB_AUTO_UPGRADE", False),
        )
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    # --- lifecycle ---

    def open_spider(self):
        # Before any request: a database that cannot be used stops the crawl here (DatabaseError),
        # and so does another run crawling into the same database (RunLocked).
        self.database = Database(self.database_url).open(auto_upgrade=self.auto_upgrade)
        self.lock = RunLock(self.database)
        try:
            self.lock.acquire()
        except RunLocked as error:
            self.stats.set_value("cascrawl/run_locked", str(error))
            self.database.close()
            self.database = None
            raise
        spider = self.crawler.spider
        settings = self.crawler.settings
        recorded = {name: getattr(settings, getter)(name) for name, getter in RUN_SETTINGS.items()}
        recorded["cascrawl_version"] = cascrawl.__version__
        self.run_id = self.database.start_run(
            base_url=getattr(spider, "base_url", settings.get("CASCRAWL_BASE_URL")),
            sections=list(getattr(spider, "sections", settings.getlist("CASCRAWL_SECTIONS"))),
            settings=json_safe(recorded),
        )
        self.stats.set_value("cascrawl/db/run_id", self.run_id)
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="cascrawl-db")
        self._pool.start()
        if self.flush_seconds:
            self._timer = task.LoopingCall(self._flush_if_due)
            self._timer.start(self.flush_seconds, now=False)

    async def close_spider(self):
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        await self._flush()
        # A flush started by the timer may still be running: the pool runs jobs in order, one at a time,
        # so once this no-op has run, every earlier flush has finished (and its stats are counted).
        await maybe_deferred_to_future(self._in_thread(lambda: None))

    async def spider_closed(self, reason):
        """After close_spider (every batch written): close the run with its status and the crawler's stats."""
        if self.database is None or self.run_id is None:
            return
        if self.failure:
            status, reason = "failed", self.failure
        else:
            status = "finished" if reason == "finished" else "stopped"
            if status == "finished" and self.crawler.stats.get_value("cascrawl/health/status") == "degraded":
                status = "degraded"  # a layout alarm (cascrawl.extensions.RunHealth)
        stats = json_safe(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        try:
            await maybe_deferred_to_future(self._in_thread(
                self.database.finish_run, self.run_id, status=status, reason=reason[:100], stats=stats))
        except Exception:
            logger.exception("could not record the end of crawl run %s", self.run_id)
        finally:
            self._pool.stop()
            self.lock.release()
            self.database.close()

    # --- items ---

    def process_item(self, item):
        adapter = ItemAdapter(item)
        if adapter.get("reject_reason"):
            self.pending_rejects.append({
                "url": adapter.get("fetched_url") or adapter.get("url"),
                "reason": adapter["reject_reason"],
                "detail": adapter.get("reject_detail"),
                "seen_at": datetime.now(timezone.utc),
            })
            # Validation already logged it; DEBUG keeps the whole item out of the log.
            raise DropItem(f"rejected: {adapter['reject_reason']}", log_level="DEBUG")
        self.pending.append(adapter.asdict())
        if len(self.pending) >= self.batch_size:
            return self._flush_then(item)  # this item waits for its batch's commit; the reactor does not
        return item

    async def _flush_then(self, item):
        await self._flush()
        return item

    def _flush_if_due(self):
        if (self.pending or self.pending_rejects) and time.monotonic() - self._last_flush >= self.flush_seconds:
            self.stats.inc_value("cascrawl/db/flushes_on_timer")
            deferred_from_coro(self._flush())

    async def _flush(self):
        batch, self.pending = self.pending, []
        rejects, self.pending_rejects = self.pending_rejects, []
        if not batch and not rejects:
            return
        self._last_flush = time.monotonic()
        if self.failure:  # the database failed before: do not pile up errors, count what is lost
            self.stats.inc_value("cascrawl/db/articles_lost", len(batch))
            return
        try:
            result, seconds = await maybe_deferred_to_future(self._in_thread(self._write, batch, rejects))
        except Exception as error:
            self._database_failed(error, len(batch))
            return
        self._count(result, len(rejects), seconds)

    def _in_thread(self, function, *args, **kwargs):
        from twisted.internet import reactor  # the one Scrapy installed

        return threads.deferToThreadPool(reactor, self._pool, function, *args, **kwargs)

    def _write(self, batch: list[dict], rejects: list[dict]) -> tuple[UpsertResult, float]:
        """In the database thread: one transaction for the rejects, one for the articles."""
        started = time.perf_counter()
        self.database.add_rejects(rejects, run_id=self.run_id)
        result = self.database.upsert_articles(batch, run_id=self.run_id)
        return result, time.perf_counter() - started

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

    def _database_failed(self, error: Exception, lost: int) -> None:
        """The database itself failed (connection lost, disk full): stop the crawl rather than fetch for nothing."""
        from twisted.internet import reactor

        self.stats.inc_value("cascrawl/db/articles_lost", lost)
        reason = self.database.error_line(error)
        if self.failure:  # a batch already on its way when the first one failed
            logger.debug("could not store %d more articles: %s", lost, reason)
            return
        self.failure = f"database error: {reason}"[:100]
        logger.error("could not store %d articles, closing the spider: %s", lost, reason)
        reactor.callLater(0, lambda: deferred_from_coro(self.crawler.engine.close_spider_async(reason="database_error")))
