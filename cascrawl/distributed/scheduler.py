"""The leasing scheduler of a distributed crawl: scrapy-redis's scheduler whose requests are leased
(released once what they produced is durable), with worker heartbeats, the reclaiming of dead workers'
leases and no closing while other workers may still add requests; Redis outages are ridden out by its
RidingOutages part (cascrawl.distributed.outage). See the docstring of cascrawl.distributed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.scheduler import Scheduler

from cascrawl import stats_keys
from cascrawl.distributed.cluster import REDIS_OUTAGE_ERRORS, Cluster, worker_name
from cascrawl.distributed.meta import LEASE, WALK
from cascrawl.distributed.outage import REDIS_GIVE_UP_REASONS, RidingOutages, error_line
from cascrawl.distributed.queue import encode_request
from cascrawl.engine import engine_of
from cascrawl.redact import safe_url

logger = logging.getLogger("cascrawl.distributed")  # the package's one logger

__all__ = ["REDIS_GIVE_UP_REASONS", "LeasingScheduler", "scheduler_of"]


@dataclass
class _Lease:
    data: bytes
    urls: set[str]
    items: set[int] = field(default_factory=set)  # id() of items not yet written
    done: bool = False  # its callback (or errback) has produced everything it will
    awaiting_item: bool = False  # failed download of an article: its errback's item is on the way


class LeasingScheduler(RidingOutages, Scheduler):
    """scrapy-redis's scheduler with leases released when their outcome is durable, worker heartbeats,
    reclaiming of dead workers' leases, and no closing while other workers may still add requests."""

    @classmethod
    def from_crawler(cls, crawler):
        scheduler = super().from_crawler(crawler)
        scheduler.stats = _Stats(crawler.stats)
        settings = crawler.settings
        scheduler.crawler = crawler
        scheduler.worker = worker_name(settings)
        scheduler.timeout = settings.getfloat("CASCRAWL_REDIS_WORKER_TIMEOUT")
        scheduler.outage_seconds = max(0.0, settings.getfloat("CASCRAWL_REDIS_OUTAGE_SECONDS"))
        scheduler.redis_url = safe_url(settings.get("CASCRAWL_REDIS_URL") or "")
        scheduler.outage = None  # (monotonic start, next delay, the pending probe) while Redis is away
        scheduler.given_up: str | None = None  # redis_outage / redis_state_lost: the worker stops
        scheduler._backlog: list[tuple] = []  # Redis writes waiting for Redis: ("enqueue", …) / ("release", …)
        scheduler.leases: dict[bytes, _Lease] = {}
        scheduler._by_url: dict[str, bytes] = {}
        scheduler._items: dict[int, tuple[bytes, Any]] = {}
        scheduler._held: set[int] = set()
        scheduler._heartbeat = None
        crawler.signals.connect(scheduler.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(scheduler.item_passed, signal=signals.item_dropped)
        crawler.signals.connect(scheduler.item_passed, signal=signals.item_error)
        return scheduler

    def open(self, spider):
        from twisted.internet import task

        super().open(spider)
        base = self.queue.key.rsplit(":", 1)[0]
        self.cluster = Cluster(self.server, base, self.worker, self.timeout)
        self.cluster.dupefilter_key = self.df.key
        self.queue.cluster = self.cluster
        self.cluster.register()
        self.cluster.requeue_unheld(())  # what an earlier worker of this name was killed holding
        self.cluster.reclaim_dead()
        self._heartbeat = task.LoopingCall(self._beat)
        self._heartbeat.start(self.cluster.timeout / 3, now=False)
        self.stats.set_value(stats_keys.REDIS_WORKER, self.worker)
        logger.info("worker %s joined the shared crawl (%d requests queued)", self.worker, len(self.queue))

    def _beat(self) -> None:
        if self.outage is not None or self.given_up:
            return  # the outage's probe tries Redis meanwhile
        try:
            self.cluster.heartbeat()
            if not self._state_kept():
                return
            self.cluster.reclaim_dead()
        except REDIS_OUTAGE_ERRORS as error:
            self._redis_lost(error)

    @property
    def redis_unavailable(self) -> bool:
        """Redis is away (or came back without the run): nothing more is asked of it by this worker."""
        return self.outage is not None or self.given_up is not None

    def close(self, reason):
        """Hand the leases back; the worker stays registered (its heartbeat going) until `leave`, which
        comes after its own row is recorded: the last worker out closes the shared run from the rows of
        all of them."""
        unavailable = self.redis_unavailable
        self._end_outage()
        self.remaining_workers = None
        self.queued_at_close = None
        if unavailable:
            # Its leases stay in Redis (if Redis still has them): the next workers take them back once
            # this one's heartbeat has expired.
            self._stop_heartbeat()
            self.leases.clear()
            return
        try:
            self.cluster.reclaim_dead()
            self.cluster.hand_back()
            self.queued_at_close = self.cluster.queued()
        except REDIS_OUTAGE_ERRORS as error:
            logger.warning("could not hand this worker's requests back to Redis (%s): the next workers take "
                           "them back once its heartbeat has expired", error_line(error))
        self.leases.clear()
        self.stats.set_value("cascrawl/redis/queued_at_close", self.queued_at_close)

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()

    def leave(self) -> None:
        """Unregister from the shared crawl (once this worker's row is recorded); idempotent."""
        self._stop_heartbeat()
        if self.redis_unavailable or self.remaining_workers is not None:
            return
        try:
            self.remaining_workers = self.cluster.leave()
        except REDIS_OUTAGE_ERRORS as error:
            self.remaining_workers = -1
            logger.warning("could not leave the shared crawl (%s): the other workers forget this one once its "
                           "heartbeat has expired", error_line(error))

    # --- leases ---

    def has_pending_requests(self) -> bool:
        if self.redis_unavailable:  # never idle then: a worker that gave up closes with its own reason
            return True
        try:
            return super().has_pending_requests()
        except REDIS_OUTAGE_ERRORS as error:
            self._redis_lost(error)
            return True

    def next_request(self):
        if self.redis_unavailable:
            return None
        try:
            request = super().next_request()
        except REDIS_OUTAGE_ERRORS as error:
            self._redis_lost(error)
            return None
        if request is not None:
            data = request.meta[LEASE]
            origin = (request.meta.get("redirect_urls") or [request.url])[0]
            self.leases[data] = _Lease(data, {request.url, origin})
            for url in (request.url, origin):
                self._by_url[url] = data
            self.stats.inc_value("cascrawl/redis/leased")
        return request

    def enqueue_request(self, request):
        data = request.meta.pop(LEASE, None)  # a retry or a redirect: it takes the place of a leased request
        queued = (self.df.request_fingerprint(request), encode_request(self.queue, request), request.priority,
                  request.dont_filter)
        if self.given_up:
            return False  # the worker is stopping: the next run finds the page again
        added = None
        if self.outage is None:
            try:
                added = self.cluster.enqueue(*queued)
            except REDIS_OUTAGE_ERRORS as error:
                self._redis_lost(error)
        if added is None:  # kept until Redis is back, its lease with it
            self._backlog.append(("enqueue", *queued))
            if data is not None:
                self._release(data)
            return True
        if added:
            self.stats.inc_value("scheduler/enqueued/redis")
        else:
            self.df.log(request, self.spider)
        if data is not None:
            self._release(data)
        return added

    def _release(self, data: bytes, walk: dict | None = None) -> None:
        lease = self.leases.pop(data, None)
        if lease is None:
            return
        for url in lease.urls:
            if self._by_url.get(url) == data:
                del self._by_url[url]
        self.stats.inc_value("cascrawl/redis/released")
        if self.given_up:
            return
        if self.outage is None:
            try:
                self.cluster.release(data, walk)
                return
            except REDIS_OUTAGE_ERRORS as error:
                self._redis_lost(error)
        self._backlog.append(("release", data, walk))

    def _settle(self, data: bytes, walk: dict | None = None) -> None:
        lease = self.leases.get(data)
        if lease is not None and lease.done and not lease.awaiting_item and not lease.items:
            self._release(data, walk)

    def expect_item(self, request, item) -> None:
        """A callback of this leased request produced an item: the lease waits until it is written."""
        data = request.meta.get(LEASE)
        if data in self.leases:
            self.leases[data].items.add(id(item))
            self._items[id(item)] = (data, item)

    def output_done(self, request, walk: dict | None = None) -> None:
        data = request.meta.get(LEASE)
        if data in self.leases:
            self.leases[data].done = True
            self._settle(data, walk)

    def download_failed(self, request) -> None:
        """The download failed for good (no retry left): a listing page's errback writes nothing, so its
        lease goes now (its walk is left unfinished); an article's errback yields a reject to write."""
        data = request.meta.get(LEASE)
        if data not in self.leases:
            return
        lease = self.leases[data]
        lease.done = True
        if WALK not in request.meta:
            lease.awaiting_item = True
        self._settle(data)

    def hold(self, item, urls: list[str]) -> int:
        """The writer (persist pipeline) took the item: returns a token to pass to written()."""
        key = id(item)
        if key not in self._items:  # an errback's item: matched to its lease by URL
            data = next((self._by_url[url] for url in urls if url in self._by_url), None)
            if data is not None and data in self.leases:
                lease = self.leases[data]
                lease.items.add(key)
                lease.awaiting_item = False
                self._items[key] = (data, item)
        self._held.add(key)
        return key

    def written(self, tokens) -> None:
        """These items are in the database (or the spool): release the leases they were waiting for."""
        for key in tokens:
            if key is None:
                continue
            self._held.discard(key)
            data, _ = self._items.pop(key, (None, None))
            if data is not None and data in self.leases:
                self.leases[data].items.discard(key)
                self._settle(data)

    def item_passed(self, item, *args, **kwargs) -> None:
        """Dropped or failed in a pipeline before the writer took it: nothing to wait for."""
        key = id(item)
        if key not in self._held and key in self._items:
            self.written([key])

    # --- idle: stay while others may add work ---

    def spider_idle(self, spider):
        if self.redis_unavailable:  # closed by _give_up with its reason, not as a finished crawl
            raise DontCloseSpider("Redis unreachable")
        try:
            if not self._state_kept():
                raise DontCloseSpider("Redis lost the crawl's state")
            self.cluster.reclaim_dead()
            if len(self.queue) or self.cluster.others_hold_leases():
                raise DontCloseSpider("other workers of the shared crawl may still add requests")
        except REDIS_OUTAGE_ERRORS as error:
            self._redis_lost(error)
            raise DontCloseSpider("Redis unreachable") from error


class _Stats:
    """The stats collector for scrapy-redis's scheduler, which still passes `spider=` (deprecated in Scrapy 2.19)."""

    def __init__(self, stats):
        self._stats = stats

    def inc_value(self, key, count=1, start=0, spider=None):
        self._stats.inc_value(key, count, start)

    def __getattr__(self, name):
        return getattr(self._stats, name)


def scheduler_of(crawler) -> LeasingScheduler | None:
    engine = engine_of(crawler)
    scheduler = getattr(engine, "scheduler", None) if engine is not None else None
    return scheduler if isinstance(scheduler, LeasingScheduler) else None
