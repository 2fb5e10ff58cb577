"""The Redis side of one distributed run (`Cluster`): its keys, the workers and their heartbeats, the
leases, the walks' shared state, the run id and the run's mutex. Plain redis-py calls and the Lua scripts
of cascrawl.distributed.scripts; no Scrapy here."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from contextlib import asynccontextmanager, contextmanager

import redis
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

from cascrawl.distributed import scripts

logger = logging.getLogger("cascrawl.distributed")  # the package's one logger

# A failure of the connection, not of the command: worth waiting out (BusyLoadingError: a server still
# loading its data after a restart is a ConnectionError too).
REDIS_OUTAGE_ERRORS = (redis.ConnectionError, redis.TimeoutError)
MUTEX_SECONDS = 30.0  # the longest the run's mutex is waited for, and held
_MUTEX_POLL_SECONDS = 0.05


def worker_name(settings) -> str:
    """This worker's name in the shared crawl: CASCRAWL_WORKER_NAME, or <host>:<pid> when that is empty."""
    return settings.get("CASCRAWL_WORKER_NAME") or f"{socket.gethostname()}:{os.getpid()}"


def _reactor_sleep(seconds: float):
    from twisted.internet import reactor, task
    from scrapy.utils.defer import maybe_deferred_to_future

    return maybe_deferred_to_future(task.deferLater(reactor, seconds))


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
        self._pop = server.register_script(scripts.POP)
        self._enqueue = server.register_script(scripts.ENQUEUE)
        self._requeue = server.register_script(scripts.REQUEUE)
        self._reclaim = server.register_script(scripts.RECLAIM)
        self._requeue_unheld = server.register_script(scripts.REQUEUE_UNHELD)
        self._rate = server.register_script(scripts.RATE)

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
        """Redis was away: nobody's heartbeat could be renewed, so every other worker's clock starts again
        now (its alive key set for `seconds` unless it has one): they get that long to come back (their
        probe) before their leases are taken back."""
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
    def mutex(self, wait: float = MUTEX_SECONDS):
        """The run's mutex (joining or closing the shared run), a redis-py Lock held for at most `wait`
        seconds (a worker killed holding it frees it then). Waited for in this thread: in the reactor
        thread, use `mutex_async`, which lets the reactor run meanwhile. TimeoutError: not taken in time."""
        lock = self._mutex_lock(wait)
        if not lock.acquire(blocking=True, blocking_timeout=wait):
            raise TimeoutError(f"could not take {self.mutex_key} within {wait:.0f} s")
        try:
            yield
        finally:
            self._let_go(lock)

    @asynccontextmanager
    async def mutex_async(self, wait: float = MUTEX_SECONDS, sleep=None):
        """`mutex`, waited for without blocking: one non-blocking try every 50 ms, `sleep` in between (an
        awaitable of seconds; Twisted's deferLater by default, for the reactor thread)."""
        sleep = sleep or _reactor_sleep
        lock = self._mutex_lock(wait)
        deadline = time.monotonic() + wait
        while not lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"could not take {self.mutex_key} within {wait:.0f} s")
            await sleep(_MUTEX_POLL_SECONDS)
        try:
            yield
        finally:
            self._let_go(lock)

    def _mutex_lock(self, wait: float) -> Lock:
        # The token kept on the Lock, not per thread: taken and let go by the same coroutine or block.
        return self.server.lock(self.mutex_key, timeout=wait, sleep=_MUTEX_POLL_SECONDS, thread_local=False)

    def _let_go(self, lock: Lock) -> None:
        try:
            lock.release()
        except LockNotOwnedError:  # held longer than its timeout: it expired, another worker may hold it now
            logger.warning("the run mutex %s expired while this worker held it", self.mutex_key)

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
