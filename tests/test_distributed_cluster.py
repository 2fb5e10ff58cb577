"""The Redis side of a distributed run (cascrawl.distributed Cluster) on its own, against a real Redis
(tests/redis_server.py): leases, heartbeats, forgetting and reclaiming workers, the repairs made when
Redis comes back from an outage, and the run's mutex. Fast: no crawl."""

from __future__ import annotations

import asyncio
import time

import pytest

from cascrawl.distributed import Cluster

from .redis_server import redis_run  # noqa: F401


def _pair(redis_run, timeout: float = 30) -> tuple[Cluster, Cluster]:
    base = f"{redis_run.prefix}:cas_news"
    one, two = Cluster(redis_run.client, base, "one", timeout), Cluster(redis_run.client, base, "two", timeout)
    one.register()
    two.register()
    return one, two


def test_a_lease_redis_took_without_the_worker_knowing_goes_back_to_the_queue(redis_run):
    """Redis stopped under a pop: it moved the request into the worker's lease set, the answer never came.
    The worker puts back what it does not hold, and keeps what it does."""
    one, two = _pair(redis_run)
    redis_run.client.zadd(one.queue_key, {b"a": 0, b"b": -1, b"c": -2})
    held = one.pop()
    assert held == b"c"
    assert one.pop() == b"b"  # ... whose answer is lost: the worker knows only of c
    assert one.requeue_unheld([held]) == 1
    assert one.queued() == 2 and redis_run.client.zrange(one.leases_key, 0, -1) == [b"c"]
    assert redis_run.client.zscore(one.queue_key, b"b") == -1  # with its priority
    assert two.others_hold_leases()  # c is still one's: the other worker waits for it
    assert one.requeue_unheld([]) == 1 and one.queued() == 3 and not two.others_hold_leases()


def test_a_worker_forgotten_while_it_worked_registers_again_with_its_next_heartbeat(redis_run):
    """A stalled worker whose heartbeat lapsed is forgotten by the others; once it beats again it is one of
    the workers again, so that nobody takes itself for the last worker and closes the run under it."""
    one, two = _pair(redis_run)
    redis_run.client.delete(one.alive_key("one"))
    assert two.reclaim_dead() == 0 and two.workers() == ["two"]
    one.heartbeat()
    assert two.workers() == ["one", "two"] and two.reclaim_dead() == 0 and two.workers() == ["one", "two"]


def test_after_an_outage_the_other_workers_get_time_to_come_back_before_their_leases_are_taken(redis_run):
    """Nobody's heartbeat is renewed while Redis is away: the first worker back gives the others a new
    lease of life instead of taking their requests (they are fetching them)."""
    one, two = _pair(redis_run, timeout=1)
    redis_run.client.zadd(one.queue_key, {b"a": 0})
    assert one.pop() == b"a"
    redis_run.client.delete(one.alive_key("one"), two.alive_key("two"))  # expired while Redis was away
    two.register()  # two is back first
    two.presume_alive(5)
    assert two.reclaim_dead() == 0 and two.workers() == ["one", "two"] and two.others_hold_leases()
    assert 1000 < redis_run.client.pttl(one.alive_key("one")) <= 5000
    one.heartbeat()  # one is back too: its own heartbeat, not the presumed one
    two.presume_alive(5)
    assert redis_run.client.pttl(one.alive_key("one")) <= 1000


def test_a_worker_whose_heartbeat_expired_is_forgotten_and_its_leases_requeued_at_once(redis_run):
    one, two = _pair(redis_run)
    redis_run.client.zadd(one.queue_key, {b"a": 0, b"b": 1})
    assert one.pop() == b"a" and one.pop() == b"b"
    assert two.reclaim_dead() == 0 and two.others_hold_leases()  # one is alive
    redis_run.client.delete(one.alive_key("one"))
    assert two.reclaim_dead() == 2 and two.workers() == ["two"] and two.queued() == 2
    assert redis_run.client.exists(one.leases_key) == 0


def test_the_run_mutex_admits_one_worker_at_a_time(redis_run):
    one, two = _pair(redis_run)
    with one.mutex():
        with pytest.raises(TimeoutError):
            with two.mutex(wait=0.3):
                pass
    with two.mutex(wait=0.3):  # let go: the next worker takes it at once
        assert redis_run.client.exists(two.mutex_key)
    assert not redis_run.client.exists(two.mutex_key)


def test_a_run_mutex_whose_holder_was_killed_frees_itself_after_its_timeout(redis_run):
    one, two = _pair(redis_run)
    killed = one.mutex(wait=0.5)
    killed.__enter__()  # never left: its worker was killed holding it
    started = time.monotonic()
    with two.mutex(wait=5):
        waited = time.monotonic() - started
    assert 0.2 < waited < 3
    del killed


def test_the_async_run_mutex_lets_other_work_run_while_it_waits(redis_run):
    """mutex_async does not block its thread (the reactor's) while another worker holds the mutex."""
    one, two = _pair(redis_run)
    events = []

    async def crawl():
        held = one.mutex_async(wait=5, sleep=asyncio.sleep)
        await held.__aenter__()

        async def closing_worker():
            async with two.mutex_async(wait=5, sleep=asyncio.sleep):
                events.append("two took it")

        waiting = asyncio.ensure_future(closing_worker())
        await asyncio.sleep(0.3)
        events.append("the loop ran while two waited")
        await held.__aexit__(None, None, None)
        await waiting

    asyncio.run(crawl())
    assert events == ["the loop ran while two waited", "two took it"]
    assert not redis_run.client.exists(one.mutex_key)
