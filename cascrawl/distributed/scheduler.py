"""Distributed crawling: several workers, one crawl. scrapy-redis holds the shared request queue and
duplicate filter in Redis; PostgreSQL is the shared store. Switched on by one setting,
CASCRAWL_REDIS_URL (`cascrawl crawl --redis URL`), through the `Distributed` add-on below.

What scrapy-redis does not do, and this module adds on top of it (thin subclasses, no copies):

- **Atomic queueing**: a request is marked seen and queued in one step (scrapy-redis takes two: a worker
  killed between them would leave a page marked seen that no queue holds).
- **Leases** (at-least-once delivery). scrapy-redis pops a request from the queue: a worker killed
  while it holds requests would lose them. Here a pop moves the request, atomically (a Lua script),
  from the queue into the worker's own lease set `<prefix>:<spider>:leases:<worker>`. A lease is
  released only when what the request produced is durable: the requests it led to are in the queue
  (a listing page's next page and articles, a retry, a redirect) and its item is written to the
  database (or the spool). Every worker renews a heartbeat key (`…:alive:<worker>`, expiring after
  CASCRAWL_REDIS_WORKER_TIMEOUT seconds); the leases of a worker whose heartbeat expired are put back
  into the queue by the others. A worker that stops (SIGTERM, end of run) puts its own leases back.
- **One run shared by the workers**: the first worker creates the run record (`crawl_runs`), the
  others join it (its id in `…:run`); each worker has a row in `run_workers` with its counts. The
  last worker to leave closes the run (status, summed stats, the sections' walks) and, when the queue
  is empty, clears the run's keys so that the next scheduled run starts afresh. Workers killed or
  stopped leave the queue and the duplicate filter in Redis: started again, they go on from there.
- **One per-host rate for the whole crawl**: a request is sent only when DOWNLOAD_DELAY seconds have
  passed since the last request *any* worker sent to that host (a Redis key per host, checked and set
  atomically at the moment the download starts).
- **Redis outages ridden out**: a Redis call that fails for a connection reason (each fails within
  seconds: no blocking retries in the reactor thread) pauses fetching; what the worker would have sent
  (requests its pages led to, lease releases) waits in memory, and Redis is tried again with back-off for
  up to CASCRAWL_REDIS_OUTAGE_SECONDS. Back with the run's state: what waited is sent, fetching resumes.
  Back *empty* (restarted without its data: the run's key `…:run` is the marker), or still away when the
  time is up: the worker stops cleanly (reason `redis_state_lost` / `redis_outage`), the run is left
  unfinished and no walk recorded complete, so the next run walks the listings again from the
  database's walk records, skipping what is stored. A signal is obeyed meanwhile.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis
from itemadapter import is_item
from scrapy import signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from cascrawl.engine import engine_of
from cascrawl.walk import walks_of

logger = logging.getLogger(__name__)

LEASE = "cascrawl_lease"  # request.meta key: the lease a popped request is held under
WALK = "cascrawl_walk"  # request.meta key of listing pages: the section's walk so far (see spiders/cas_news.py)

# Pop the first request of the queue into the worker's lease set, atomically.
_POP = """
local found = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #found == 0 then return false end
redis.call('ZREM', KEYS[1], found[1])
redis.call('ZADD', KEYS[2], found[2], found[1])
return found[1]
"""
# Mark a request seen and queue it in one step (scrapy-redis does it in two: a worker killed between them
# would leave a request marked seen that is in no queue, and the page would be lost for the run).
_ENQUEUE = """
if ARGV[3] == '1' or redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
  return 1
end
return 0
"""
# Put every lease of a worker back into the queue (same priority), atomically.
_REQUEUE = """
local held = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #held, 2 do redis.call('ZADD', KEYS[2], held[i + 1], held[i]) end
redis.call('DEL', KEYS[1])
return #held / 2
"""
# A worker whose heartbeat expired: its leases back into the queue and the worker forgotten, in one step
# (checked and done apart, a worker re-registering in between would be forgotten while alive). -1: alive.
_RECLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local held = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #held, 2 do redis.call('ZADD', KEYS[3], held[i + 1], held[i]) end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[4], ARGV[1])
return #held / 2
"""
# The leases of a worker that it does not hold (ARGV: the ones it does) back into the queue, atomically: a
# pop that Redis ran but whose answer never arrived (Redis stopped under it) left the request there.
_REQUEUE_UNHELD = """
local held = {}
for i = 1, #ARGV do held[ARGV[i]] = true end
local leased = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local moved = 0
for i = 1, #leased, 2 do
  if not held[leased[i]] then
    redis.call('ZREM', KEYS[1], leased[i])
    redis.call('ZADD', KEYS[2], leased[i + 1], leased[i])
    moved = moved + 1
  end
end
return moved
"""
# The per-host rate: 0 if a request may go now (and the time is taken), else milliseconds to wait.
_RATE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local gap = tonumber(ARGV[1])
if ms - last >= gap then
  redis.call('SET', KEYS[1], ms, 'PX', gap * 10 + 60000)
  return 0
end
return gap - (ms - last)
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


_REDIS_CALL_SECONDS = 5  # the longest one Redis call may block the reactor thread
_PROBE_MAX_DELAY = 5.0  # while Redis is away it is tried again at least this often
# A failure of the connection, not of the command: worth waiting out (BusyLoadingError: a server still
# loading its data after a restart is a ConnectionError too).
REDIS_OUTAGE_ERRORS = (redis.ConnectionError, redis.TimeoutError)
# Why a worker stops on its own when Redis fails it (LeasingScheduler._give_up): it dropped what waited for Redis.
REDIS_GIVE_UP_REASONS = ("redis_outage", "redis_state_lost")


def refusal(settings) -> str | None:
    """Why distributed mode cannot start with these settings, in one line (None: it can, or is off)."""
    url = settings.get("CASCRAWL_REDIS_URL")
    if not url:
        return None
    database = settings.get("CASCRAWL_DATABASE_URL") or ""
    if database.startswith("sqlite"):
        return ("distributed crawling (--redis) needs PostgreSQL: several workers cannot share a SQLite file "
                "safely; use --db postgresql+psycopg://…")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except (redis.RedisError, ValueError) as error:
        return f"cannot reach Redis at {_safe_redis_url(url)}: {error}"
    return None


def _safe_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def worker_name(settings) -> str:
    return settings.get("CASCRAWL_WORKER_NAME") or f"{socket.gethostname()}:{os.getpid()}"


class Distributed:
    """Scrapy add-on (ADDONS): with CASCRAWL_REDIS_URL set, puts scrapy-redis's scheduler and duplicate
    filter in place (through the leasing subclasses here), the shared per-host rate, and the
    middlewares that release leases. Without it, does nothing."""

    def update_settings(self, settings) -> None:
        url = settings.get("CASCRAWL_REDIS_URL")
        if not url:
            return
        prefix = f"{settings.get('CASCRAWL_REDIS_PREFIX') or 'cascrawl'}:%(spider)s"
        for name, value in {
            "REDIS_URL": url,
            "SCHEDULER": "cascrawl.distributed.LeasingScheduler",
            "SCHEDULER_QUEUE_CLASS": "cascrawl.distributed.LeasingQueue",
            "SCHEDULER_QUEUE_KEY": f"{prefix}:requests",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:dupefilter",
            "SCHEDULER_PERSIST": True,  # the run's keys are cleared by the last worker of a finished run
        }.items():
            settings.set(name, value, priority="addon")
        # Every Redis call runs in the reactor thread: one that hangs or retries there (scrapy-redis: 30 s
        # timeouts, retried; redis-py: retries with sleeps) stalls the whole worker, signals included. Fail
        # within seconds instead; the scheduler rides the outage out without blocking (LeasingScheduler).
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        params = dict(settings.getdict("REDIS_PARAMS"))
        params.setdefault("socket_timeout", _REDIS_CALL_SECONDS)
        params.setdefault("socket_connect_timeout", _REDIS_CALL_SECONDS)
        params.setdefault("retry_on_timeout", False)
        params.setdefault("retry", Retry(NoBackoff(), 0))
        settings.set("REDIS_PARAMS", params, priority="addon")
        if settings.getpriority("CONCURRENT_REQUESTS") <= SETTINGS_PRIORITIES["default"]:
            # A worker leases what its downloader takes in (CONCURRENT_REQUESTS): keep that to twice what it
            # may send to the host at once, so the work spreads over the workers and a dead one held little.
            settings.set("CONCURRENT_REQUESTS", 2 * max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")),
                         priority="addon")
        handlers = dict(settings.getdict("DOWNLOAD_HANDLERS"))
        for scheme in ("http", "https"):
            handlers.setdefault(scheme, "cascrawl.distributed.SharedRateDownloadHandler")
        settings.set("DOWNLOAD_HANDLERS", handlers, priority="addon")
        spider_middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
        spider_middlewares.setdefault("cascrawl.distributed.LeaseSpiderMiddleware", 1)  # next to the engine
        settings.set("SPIDER_MIDDLEWARES", spider_middlewares, priority="addon")
        downloader_middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
        downloader_middlewares.setdefault("cascrawl.distributed.LeaseDownloaderMiddleware", 1)  # outermost
        settings.set("DOWNLOADER_MIDDLEWARES", downloader_middlewares, priority="addon")


class Cluster:
    """The Redis side of one distributed run: keys, workers, heartbeats, leases, walks, the run id."""

    def __init__(self, server, base: str, worker: str, timeout: float):
        self.server, self.base, self.worker, self.timeout = server, base, worker, max(1.0, timeout)
        self.queue_key = f"{base}:requests"
        self.dupefilter_key = f"{base}:dupefilter"
        self.run_key = f"{base}:run"
        self.workers_key = f"{base}:workers"
        self.walks_key = f"{base}:walks"
        self.mutex_key = f"{base}:mutex"
        self.leases_key = self.leases_of(worker)
        self._pop = server.register_script(_POP)
        self._enqueue = server.register_script(_ENQUEUE)
        self._requeue = server.register_script(_REQUEUE)
        self._reclaim = server.register_script(_RECLAIM)
        self._requeue_unheld = server.register_script(_REQUEUE_UNHELD)
        self._rate = server.register_script(_RATE)
        self._unlock = server.register_script(_UNLOCK)

    def leases_of(self, worker: str) -> str:
        return f"{self.base}:leases:{worker}"

    def alive_key(self, worker: str) -> str:
        return f"{self.base}:alive:{worker}"

    # --- workers ---

    def register(self) -> None:
        self.heartbeat()

    def heartbeat(self) -> None:
        """Alive for `timeout` seconds more; registered again if another worker forgot this one (its
        heartbeat lapsed: a stalled process), so that nobody takes the run for finished while it works."""
        pipe = self.server.pipeline(transaction=True)
        pipe.sadd(self.workers_key, self.worker)
        pipe.set(self.alive_key(self.worker), f"{socket.gethostname()} pid {os.getpid()}", px=int(self.timeout * 1000))
        pipe.execute()

    def presume_alive(self, seconds: float) -> None:
        """Redis was away: nobody's heartbeat could be renewed, so every worker's clock starts again now. The
        others get `seconds` to come back (their probe) before their leases are taken back."""
        for name in self.workers():
            if name != self.worker:
                self.server.set(self.alive_key(name), "presumed alive: Redis was away", px=int(seconds * 1000), nx=True)

    def workers(self) -> list[str]:
        return sorted(name.decode() if isinstance(name, bytes) else name for name in self.server.smembers(self.workers_key))

    def reclaim_dead(self) -> int:
        """Put back the leases of workers whose heartbeat expired (killed, host gone); forget them."""
        moved = 0
        for name in self.workers():
            if name == self.worker:
                continue
            count = int(self._reclaim(keys=[self.alive_key(name), self.leases_of(name), self.queue_key,
                                            self.workers_key], args=[name]))
            if count < 0:
                continue
            if count:
                logger.warning("worker %s stopped answering: its %d request(s) put back into the queue", name, count)
            moved += count
        return moved

    def requeue_unheld(self, held) -> int:
        """Put back into the queue what this worker's lease set holds beyond `held` (the leases it knows
        of); returns how many."""
        count = int(self._requeue_unheld(keys=[self.leases_key, self.queue_key], args=list(held)))
        if count:
            logger.warning("%d request(s) leased to this worker without its knowing (Redis stopped under a pop, or "
                           "an earlier worker of this name) put back into the shared queue", count)
        return count

    def others_hold_leases(self) -> bool:
        return any(self.server.zcard(self.leases_of(name)) for name in self.workers() if name != self.worker)

    def queued(self) -> int:
        return int(self.server.zcard(self.queue_key))

    def hand_back(self) -> int:
        """Put this worker's leases back into the queue; returns how many."""
        count = int(self._requeue(keys=[self.leases_key, self.queue_key]))
        if count:
            logger.info("%d unfinished request(s) put back into the shared queue", count)
        return count

    def leave(self) -> int:
        """Put this worker's leases back, unregister; returns how many workers are left."""
        self.hand_back()
        self.server.srem(self.workers_key, self.worker)
        self.server.delete(self.alive_key(self.worker))
        return int(self.server.scard(self.workers_key))

    # --- leases ---

    def pop(self) -> bytes | None:
        return self._pop(keys=[self.queue_key, self.leases_key])

    def enqueue(self, fingerprint: str, data: bytes, priority: int, dont_filter: bool) -> bool:
        """Queue a request unless its fingerprint was seen (dont_filter: queue it anyway); atomic."""
        return bool(self._enqueue(keys=[self.dupefilter_key, self.queue_key],
                                  args=[fingerprint, -priority, "1" if dont_filter else "0", data]))

    def release(self, data: bytes, walk: dict | None = None) -> None:
        pipe = self.server.pipeline(transaction=True)
        if walk is not None:  # a listing page's walk state, published with its release
            pipe.hset(self.walks_key, f"{walk['section']}\t{walk['pages']:08d}", json.dumps(walk))
        pipe.zrem(self.leases_key, data)
        pipe.execute()

    def walks(self) -> dict[str, dict]:
        """Per section, the walk state of its furthest listing page."""
        best: dict[str, dict] = {}
        for raw in self.server.hvals(self.walks_key):
            walk = json.loads(raw)
            if walk["section"] not in best or walk["pages"] >= best[walk["section"]]["pages"]:
                best[walk["section"]] = walk
        return best

    # --- the run ---

    @contextmanager
    def mutex(self, wait: float = 30.0):
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        while not self.server.set(self.mutex_key, token, nx=True, px=int(wait * 1000)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not take {self.mutex_key}")
            time.sleep(0.05)
        try:
            yield
        finally:
            self._unlock(keys=[self.mutex_key], args=[token])

    def run_id(self) -> int | None:
        value = self.server.hget(self.run_key, "run_id")
        return int(value) if value is not None else None

    def set_run(self, run_id: int) -> None:
        self.server.hset(self.run_key, mapping={"run_id": run_id, "started_by": self.worker})

    def clear_run(self) -> None:
        """The run is over: the next run starts with an empty queue and duplicate filter."""
        self.server.delete(self.queue_key, self.dupefilter_key, self.run_key, self.walks_key, self.workers_key)

    # --- politeness ---

    def wait_for_host(self, host: str, gap_seconds: float) -> float:
        """0 when a request to `host` may be sent now (the slot is taken), else seconds to wait first."""
        return int(self._rate(keys=[f"{self.base}:rate:{host}"], args=[int(gap_seconds * 1000)])) / 1000


class LeasingQueue(PriorityQueue):
    """scrapy-redis's priority queue, whose pop leases (see the module docstring) instead of removing.
    Requests are queued by LeasingScheduler.enqueue_request (marked seen and queued in one step)."""

    cluster: Cluster | None = None

    def pop(self, timeout=0):
        data = self.cluster.pop()
        if not data:
            return None
        request = self._decode_request(data)
        request.meta[LEASE] = data
        return request


@dataclass
class _Lease:
    data: bytes
    urls: set[str]
    items: set[int] = field(default_factory=set)  # id() of items not yet written
    done: bool = False  # its callback (or errback) has produced everything it will
    awaiting_item: bool = False  # failed download of an article: its errback's item is on the way


class LeasingScheduler(Scheduler):
    """scrapy-redis's scheduler with leases released when their outcome is durable, worker heartbeats,
    reclaiming of dead workers' leases, and no closing while other workers may still add requests."""

    @classmethod
    def from_crawler(cls, crawler):
        scheduler = super().from_crawler(crawler)
        scheduler.stats = _Stats(crawler.stats)
        settings = crawler.settings
        scheduler.crawler = crawler
        scheduler.worker = worker_name(settings)
        scheduler.timeout = settings.getfloat("CASCRAWL_REDIS_WORKER_TIMEOUT", 30.0)
        scheduler.outage_seconds = max(0.0, settings.getfloat("CASCRAWL_REDIS_OUTAGE_SECONDS", 300.0))
        scheduler.redis_url = _safe_redis_url(settings.get("CASCRAWL_REDIS_URL") or "")
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
        self.stats.set_value("cascrawl/redis/worker", self.worker)
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
                           "them back once its heartbeat has expired", _error_line(error))
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
                           "heartbeat has expired", _error_line(error))

    # --- Redis outages ---

    def _state_kept(self) -> bool:
        """Redis still holds this run (its marker, `…:run`): else it lost the crawl's state (restarted
        empty, flushed) and this worker stops rather than take an empty queue for a finished crawl."""
        run_id = self.stats.get_value("cascrawl/db/run_id")
        if run_id is None or self.cluster.run_id() == run_id:
            return True
        self._give_up("redis_state_lost",
                      "Redis came back without the crawl's state (restarted empty?): this worker stops; the run "
                      "is left unfinished and the next run walks the listings again from the database")
        return False

    def _redis_lost(self, error: Exception) -> None:
        """A Redis call failed for a connection reason: pause fetching, try again with back-off."""
        if self.redis_unavailable:
            return
        from twisted.internet import reactor

        engine = engine_of(self.crawler)
        if engine is not None:
            engine.pause()
        self.stats.inc_value("cascrawl/redis/outages")
        logger.warning("Redis unreachable at %s (%s): fetching paused; trying again for up to %.0f s",
                       self.redis_url, _error_line(error), self.outage_seconds)
        self.outage = [time.monotonic(), 0.5, reactor.callLater(0.5, self._probe)]

    def _probe(self) -> None:
        from twisted.internet import reactor

        started, delay, _ = self.outage
        waited = time.monotonic() - started
        try:
            self.server.ping()
            state_kept = self._state_kept()
            if state_kept:
                self._send_backlog()
                self.cluster.register()
                # A pop Redis ran as it stopped left a request leased to this worker that it knows nothing of:
                # it would never be released, and the others would wait for it for ever (spider_idle).
                self.cluster.requeue_unheld(self.leases)
                # Nobody's heartbeat was renewed while Redis was away: none of the workers is dead for that.
                self.cluster.presume_alive(self.cluster.timeout + _PROBE_MAX_DELAY)
        except REDIS_OUTAGE_ERRORS as error:
            if waited >= self.outage_seconds:
                self._end_outage()
                self._give_up("redis_outage", f"Redis still unreachable after {waited:.0f} s ({_error_line(error)}): "
                              "this worker stops; the run is left unfinished for the next run")
                return
            delay = min(delay * 2, _PROBE_MAX_DELAY)
            self.outage = [started, delay, reactor.callLater(min(delay, max(0.1, self.outage_seconds - waited)),
                                                              self._probe)]
            return
        self._end_outage()
        self.stats.inc_value("cascrawl/redis/outage_seconds", round(waited, 1))
        if not state_kept:
            return
        logger.warning("Redis back after %.1f s: fetching resumes", waited)
        engine = engine_of(self.crawler)
        if engine is not None:
            engine.unpause()
            slot = getattr(engine, "_slot", None)
            if slot is not None:
                slot.nextcall.schedule()

    def _end_outage(self) -> None:
        if self.outage is not None:
            call = self.outage[2]
            if call.active():
                call.cancel()
            self.outage = None

    def _send_backlog(self) -> None:
        """What waited for Redis, in order; a failure leaves the rest waiting (and raises)."""
        while self._backlog:
            kind, *args = self._backlog[0]
            if kind == "enqueue":
                fingerprint, data, priority, dont_filter = args
                if self.cluster.enqueue(fingerprint, data, priority, dont_filter):
                    self.stats.inc_value("scheduler/enqueued/redis")
            else:
                self.cluster.release(*args)
            self._backlog.pop(0)

    def _give_up(self, reason: str, message: str) -> None:
        if self.given_up:
            return
        from twisted.internet import reactor

        self.given_up = reason
        self.stats.set_value("cascrawl/redis/stopped", reason)
        self.stats.set_value("cascrawl/redis/stopped_because", message)
        logger.error("%s", message)
        engine = engine_of(self.crawler)
        if engine is not None:  # still paused: the close lets what is in flight finish and be written
            reactor.callLater(0, lambda: deferred_from_coro(engine.close_spider_async(reason=reason)))

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
        queued = (self.df.request_fingerprint(request), self.queue._encode_request(request), request.priority,
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


def _error_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def scheduler_of(crawler) -> LeasingScheduler | None:
    engine = engine_of(crawler)
    scheduler = getattr(engine, "scheduler", None) if engine is not None else None
    return scheduler if isinstance(scheduler, LeasingScheduler) else None


class LeaseSpiderMiddleware:
    """Tells the scheduler what each leased request's callback produced: items to wait for; the end of
    its output, when the requests it yielded are in the queue (a listing page's lease then goes, with
    its section's walk state)."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_spider_output(self, response, result):
        scheduler = scheduler_of(self.crawler)
        request = response.request
        async for output in result:
            if scheduler is not None and is_item(output):
                scheduler.expect_item(request, output)
            yield output
        if scheduler is not None:
            scheduler.output_done(request, self._walk(request))

    def process_spider_exception(self, response, exception):
        scheduler = scheduler_of(self.crawler)
        if scheduler is not None:
            scheduler.output_done(response.request)

    def _walk(self, request) -> dict | None:
        if WALK not in request.meta:
            return None
        walk = walks_of(self.crawler).get(request.cb_kwargs.get("section"))
        return walk.shared_state() if walk is not None else None


class LeaseDownloaderMiddleware:
    """Outermost downloader middleware: a download that failed for good (no retry returned) reaches
    here last, before the request's errback."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_exception(self, request, exception):
        scheduler = scheduler_of(self.crawler)
        if scheduler is not None:
            scheduler.download_failed(request)
        return None


class SharedRateDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, sending a request only when DOWNLOAD_DELAY seconds have passed since
    any worker's last request to that host (and port). Checked when the download starts, so a request
    waiting for its worker's own slot never takes the host's turn early. DOWNLOAD_DELAY = 0: no wait."""

    lazy = False

    def __init__(self, crawler):
        super().__init__(crawler)
        self.gap = crawler.settings.getfloat("DOWNLOAD_DELAY")

    async def download_request(self, request):
        scheduler = scheduler_of(self._crawler)
        if self.gap > 0 and scheduler is not None:
            from twisted.internet import reactor, task

            host = urlsplit(request.url).netloc
            waited = 0.0
            while not scheduler.redis_unavailable:
                try:
                    wait = scheduler.cluster.wait_for_host(host, self.gap)
                except REDIS_OUTAGE_ERRORS as error:  # this request goes on its worker's own delay
                    scheduler._redis_lost(error)
                    break
                if wait <= 0:
                    break
                waited += wait
                await maybe_deferred_to_future(task.deferLater(reactor, wait))
            if waited:
                self._crawler.stats.inc_value("cascrawl/redis/host_wait_seconds", round(waited, 3))
        return await super().download_request(request)
