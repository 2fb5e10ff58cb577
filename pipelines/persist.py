"""The last item pipeline: articles upserted by canonical URL in batches, rejected items written to `rejects`
(and put on the re-fetch schedule), by one writer thread; what cannot be written is kept in the spool. Only
batching and writing: the run's record and lock, the spool replay, the walks' final record and the verdict
are the run record's (cascrawl/run/record.py), which this pipeline finds through the crawler; what one
batch writes is cascrawl/run/writes.py.

Batches are flushed every CASCRAWL_DB_BATCH_SIZE articles, every CASCRAWL_DB_FLUSH_SECONDS seconds
(if anything is waiting) and when the spider closes; a distributed crawl writes as soon as the writer is
free. A flush runs in a thread of its own (one thread: flushes never overlap), so a slow commit does not
stall the Twisted reactor: downloads and parsing go on meanwhile. Only the item that fills a batch waits
for its commit (process_item returns an awaitable then), which keeps memory bounded when the database is
slower than the crawl.

Nothing fetched is thrown away silently. A failed write is classified first (cascrawl/db/store.py:
error_kind). A connection reason (server down, network cut) or a SQLite file locked by another writer
keeps its items, pauses fetching (one pause, however many writes failed) and tries again with back-off
for up to CASCRAWL_DB_OUTAGE_SECONDS (cascrawl/run/outage.py). A full disk, a read-only file system, a
permission refused or a corrupt database is not waited for: fetching stops at once. If the database is
still away after the outage time, or cannot be written, everything pending goes to a spool file
(cascrawl/spool.py, in the first spool directory with room) that the next run writes first; if no spool
directory can take it either, the articles are counted and named as lost (the log lists their URLs): they
are not stored, so the next run fetches them again.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import defer, task

from cascrawl import stats_keys
from cascrawl.archive.crawl import archive_of
from cascrawl.db import UpsertResult
from cascrawl.db.engine import LOCKED, OUTAGE, STORAGE, error_kind
from cascrawl.engine import engine_of
from cascrawl.run.outage import Outage, tell
from cascrawl.run.record import RunRecord, run_record_of
from cascrawl.run.thread import DatabaseThread
from cascrawl.run.writes import BatchWriter, StoredThenFailed
from cascrawl.spool import Spool, SpoolUnwritable

logger = logging.getLogger(__name__)


class PersistPipeline:
    def __init__(self, crawler, record: RunRecord, batch_size: int, flush_seconds: float, outage_seconds: float,
                 spool_dir: str | None, reject_retry_max_days: float):
        self.crawler = crawler
        self.stats = crawler.stats
        self.record = record
        self.archive = archive_of(crawler)  # the WARC archive's writer, when it is on
        self.batch_size = max(1, batch_size)
        self.flush_seconds = max(0.0, flush_seconds)
        self.reject_retry_max_days = reject_retry_max_days
        self.outage = Outage(crawler, outage_seconds)
        self.spool = Spool(spool_dir, record.database_url)
        self.database = None  # the run record's, once it is open
        self.run_id: int | None = None
        self.shared = None  # a distributed crawl: the scheduler holding the leases
        self.writer: BatchWriter | None = None
        self.pending: list[dict] = []
        self.pending_rejects: list[dict] = []
        self.failure: str | None = None  # why storing failed, if it did
        self.spooled = 0  # items written to the spool file instead of the database
        self.spool_files: list[str] = []  # where they are (a fallback directory when the first had no room)
        self.lost_urls: list[str] = []  # articles neither stored nor spooled: the next run fetches them
        self._thread: DatabaseThread | None = None
        self._timer: task.LoopingCall | None = None
        self._last_flush = time.monotonic()
        self._writing = False  # a distributed crawl's write loop is running (_write_soon)
        self._closed = defer.Deferred()  # fired when close_spider has written everything

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(
            crawler,
            run_record_of(crawler),
            settings.getint("CASCRAWL_DB_BATCH_SIZE"),
            settings.getfloat("CASCRAWL_DB_FLUSH_SECONDS"),
            settings.getfloat("CASCRAWL_DB_OUTAGE_SECONDS"),
            settings.get("CASCRAWL_SPOOL_DIR") or None,
            settings.getfloat("CASCRAWL_REJECT_RETRY_MAX_DAYS"),
        )

    # --- lifecycle ---

    async def open_spider(self):
        # The run record opens first (its lock, its row, the spool replay): a refusal stops the crawl here.
        await self.record.open()
        self.database, self.run_id, self.shared = self.record.database, self.record.run_id, self.record.shared
        self.writer = BatchWriter(self.database, self.run_id, self.stats, self.reject_retry_max_days)
        self._thread = DatabaseThread("cascrawl-db")
        if self.flush_seconds:
            self._timer = task.LoopingCall(self._flush_if_due)
            self._timer.start(self.flush_seconds, now=False)
        self.record.attach(self)

    async def close_spider(self):
        try:
            await self._write_everything()
            if self.archive is not None:  # every record written, its file closed: the run's stats are final
                await self.archive.close()
        finally:
            if self._thread is not None:
                self._thread.stop()
            if not self._closed.called:
                self._closed.callback(None)

    async def closed(self) -> None:
        """Until close_spider has written everything (or spooled it): the run record's first step at the end."""
        if not self._closed.called:
            await maybe_deferred_to_future(self._closed)

    async def _write_everything(self):
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        if self._thread is None:  # open_spider failed (the run lock, the database): nothing was written
            return
        # An outage may end with items still waiting: write until nothing is left (or all is spooled).
        while self.pending or self.pending_rejects or self.outage.ongoing:
            await self._flush()
        # A flush started by the timer may still be running: the thread runs jobs in order, one at a time,
        # so once this has run, every earlier flush has finished (and its stats are counted).
        if self.failure:
            await self._thread.run(lambda: None)
            stats = self.stats
            logger.error("in all: %d articles and %d rejects kept in the spool at %s; %d articles to fetch again%s",
                         stats.get_value(stats_keys.ARTICLES_SPOOLED, 0), stats.get_value("cascrawl/db/rejects_spooled", 0),
                         ", ".join(self.spool_files) or "(none)", len(self.lost_urls),
                         (": " + " ".join(self.lost_urls)) if self.lost_urls else "")
        else:  # the full-text index takes this run's new articles in one go (search scanned them meanwhile)
            await self._thread.run(self.writer.sync_search)

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

    # --- batches ---

    def _write_soon(self) -> None:
        """A distributed crawl writes as soon as the database thread is free (group commit: whatever
        arrived meanwhile goes in one batch), not by batch size or timer: a worker killed then has only
        its requests in flight and the batch being written to hand over, not a batch of fetched pages."""
        if self._writing or self.outage.ongoing:
            return
        self._writing = True

        async def write():
            try:
                while (self.pending or self.pending_rejects) and not self.outage.ongoing and not self.failure:
                    await self._flush()
            finally:
                self._writing = False

        deferred_from_coro(write())

    async def _flush_then(self, item):
        await self._flush()
        return item

    def _flush_if_due(self):
        if self.outage.ongoing:
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
        if self.outage.ongoing:  # the outage loop writes everything once the database is back
            await self.outage.wait()
            return
        batch, rejects = self._take()
        if not batch and not rejects:
            return
        self._last_flush = time.monotonic()
        if self.failure:  # the database failed for good: keep what arrives in the spool
            self._spool(batch, rejects)
            return
        try:
            outcome = await self._write_in_thread(batch, rejects)
        except Exception as error:
            batch, error = self._stored_part(batch, error)
            self._put_back(batch, rejects)
            if self.outage.ongoing:  # a ride-out began while this write waited: one pause
                await self.outage.wait()
            elif self.failure:  # the database failed for good while this write waited: spool it too
                self._database_failed(error)
            elif self.outage.worth_riding_out(error):
                await self._ride_out(error)
            else:
                self._database_failed(error)
            return
        self._wrote(batch, rejects, outcome)

    async def _write_kept(self) -> tuple[list[dict], list[dict], tuple[UpsertResult, float]]:
        """Everything pending written (the outage's retry); put back if that fails, and the error raised."""
        batch, rejects = self._take()
        try:
            return batch, rejects, await self._write_in_thread(batch, rejects)
        except Exception as error:
            batch, error = self._stored_part(batch, error)
            self._put_back(batch, rejects)
            raise error

    def _stored_part(self, batch: list[dict], error: Exception) -> tuple[list[dict], Exception]:
        """(what of `batch` is still to write, the error to act on): a write whose articles were committed
        before a later step failed counts them as stored, and only its rejects are kept for another try."""
        if not isinstance(error, StoredThenFailed):
            return batch, error
        self.writer.count(error.outcome[0], 0, error.outcome[1])
        self._written(batch, [])
        return [], error.error

    def _wrote(self, batch: list[dict], rejects: list[dict], outcome: tuple[UpsertResult, float]) -> None:
        result, seconds = outcome
        self.writer.count(result, len(rejects), seconds)
        self._written(batch, rejects)

    async def _write_in_thread(self, batch: list[dict], rejects: list[dict]) -> tuple[UpsertResult, float]:
        """The batch in the database thread, with the walks' progress when it changed since last written."""
        changed = self.record.unrecorded_walks()
        if self.archive is not None:  # each row's WARC record, once the archive's writer has written it
            await self._thread.run(self.archive.fill, batch)
        outcome = await self._thread.run(self.writer.write, batch, rejects, changed)
        if changed is not None:
            self.record.walks_recorded(changed)
        return outcome

    async def _ride_out(self, error: Exception) -> None:
        """The database is away: fetching paused, everything pending written again with back-off."""
        last_error, waited = await self.outage.ride_out(error, self.database.error_line(error), len(self.pending),
                                                        self._write_kept, lambda kept: self._wrote(*kept))
        if last_error is None:
            tell(f"database back after {waited:.1f} s: everything kept was written; fetching resumes")
            self.record.relock()
            self.crawler.engine.unpause()
        else:
            self._database_failed(last_error, waited)
        self.outage.over()

    def _written(self, batch: list[dict], rejects: list[dict]) -> None:
        if self.shared is not None:
            self.shared.written([row.get("_lease") for row in batch + rejects])

    # --- when the database fails for good ---

    def _spool(self, batch: list[dict], rejects: list[dict]) -> None:
        if not batch and not rejects:
            return
        rows = [{key: value for key, value in row.items() if key != "_lease"} for row in batch]
        if self.archive is not None:  # kept with their WARC records (written by now, or a gap)
            self.archive.fill(rows, timeout=5.0)
        kept_rejects = [{key: value for key, value in row.items() if key != "_lease"} for row in rejects]
        previous = Path(self.spool_files[-1]) if self.spool_files else None
        try:
            path, refusals = self.spool.keep(self.run_id, rows, kept_rejects, prefer=previous)
        except SpoolUnwritable as error:  # nowhere to keep them: lost here, and said so with their URLs
            urls = [row.get("url") or row.get("fetched_url") or "?" for row in batch]
            self.lost_urls.extend(urls)
            self.stats.inc_value(stats_keys.ARTICLES_LOST, len(batch))
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
        self.stats.inc_value(stats_keys.ARTICLES_SPOOLED, len(batch))
        self.stats.inc_value("cascrawl/db/rejects_spooled", len(rejects))
        self.stats.set_value(stats_keys.SPOOLED, self.spooled)
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
