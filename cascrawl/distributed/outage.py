"""Redis outages ridden out by a distributed worker: the part of LeasingScheduler
(cascrawl.distributed.scheduler) that pauses fetching when a Redis call fails for a connection reason,
keeps what waits for Redis (the backlog), probes Redis with back-off, and either resumes (Redis back with
the run: the backlog sent, the lease book repaired) or gives the crawl up (Redis back empty, or away for
longer than CASCRAWL_REDIS_OUTAGE_SECONDS). A mixin: it works on the scheduler's own state."""

from __future__ import annotations

import logging
import time

from scrapy.utils.defer import deferred_from_coro

from cascrawl import stats_keys
from cascrawl.distributed.cluster import REDIS_OUTAGE_ERRORS
from cascrawl.engine import engine_of

logger = logging.getLogger("cascrawl.distributed")  # the package's one logger

_PROBE_MAX_DELAY = 5.0  # while Redis is away it is tried again at least this often
# Why a worker stops on its own when Redis fails it (RidingOutages._give_up): it dropped what waited for Redis.
REDIS_GIVE_UP_REASONS = ("redis_outage", "redis_state_lost")


def error_line(error: Exception) -> str:
    """The first line of an error's message (its type's name if it has none)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class RidingOutages:
    """Outage handling for LeasingScheduler; uses its crawler, stats, server, cluster, leases, backlog,
    outage (None, or [monotonic start, next delay, the pending probe]) and given_up."""

    def _state_kept(self) -> bool:
        """Redis still holds this run (its marker, `…:run`): else it lost the crawl's state (restarted
        empty, flushed) and this worker stops rather than take an empty queue for a finished crawl."""
        run_id = self.stats.get_value(stats_keys.RUN_ID)
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
                       self.redis_url, error_line(error), self.outage_seconds)
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
                # Their clock starts again now, for one worker timeout (a closing worker waits that long and
                # 2 s more for the dead to be forgotten: pipelines/persist.py).
                self.cluster.presume_alive(self.cluster.timeout)
        except REDIS_OUTAGE_ERRORS as error:
            if waited >= self.outage_seconds:
                self._end_outage()
                self._give_up("redis_outage", f"Redis still unreachable after {waited:.0f} s ({error_line(error)}): "
                              "this worker stops; the run is left unfinished for the next run")
                return
            delay = min(delay * 2, _PROBE_MAX_DELAY)
            self.outage = [started, delay, reactor.callLater(min(delay, max(0.1, self.outage_seconds - waited)),
                                                              self._probe)]
            return
        self._end_outage()
        self.stats.inc_value(stats_keys.REDIS_OUTAGE_SECONDS, round(waited, 1))
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
        self.stats.set_value(stats_keys.REDIS_STOPPED, reason)
        self.stats.set_value("cascrawl/redis/stopped_because", message)
        logger.error("%s", message)
        engine = engine_of(self.crawler)
        if engine is not None:  # still paused: the close lets what is in flight finish and be written
            reactor.callLater(0, lambda: deferred_from_coro(engine.close_spider_async(reason=reason)))
