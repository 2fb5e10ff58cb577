"""The retry back-off of cascrawl/middlewares.py, delay by delay: CASCRAWL_RETRY_BACKOFF_BASE * 2**(n-1)
seconds before the n-th retry, never more than CASCRAWL_RETRY_BACKOFF_MAX (README, "Politeness")."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler
from twisted.internet import defer

import cascrawl.middlewares as middlewares
from cascrawl.middlewares import RetryBackoffMiddleware


class FakeClock:
    """Time that passes only when the middleware waits: the waits are recorded and cost nothing, whether
    the middleware waits once or in slices (a slice loop reads time.monotonic to know when it is done)."""

    def __init__(self):
        self.now = 1000.0
        self.slices: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def defer_later(self, clock, delay, *args, **kwargs):
        self.slices.append(delay)
        self.now += delay
        return defer.succeed(None)


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(middlewares, "deferLater", fake.defer_later)
    monkeypatch.setattr(middlewares, "time", fake, raising=False)  # only a slice loop reads it
    return fake


def run(middleware: RetryBackoffMiddleware, request: Request):
    coroutine = middleware.process_request(request)
    with pytest.raises(StopIteration) as done:
        coroutine.send(None)  # every awaited Deferred has already fired: it completes in one step
    return done.value.value


def waited_per_request(middleware, clock: FakeClock, retries: list[int]) -> list[float]:
    totals = []
    for count in retries:
        before = len(clock.slices)
        assert run(middleware, Request("https://www.cas.cn/yw/", meta={"retry_times": count})) is None
        totals.append(round(sum(clock.slices[before:]), 6))
    return totals


def middleware(CASCRAWL_RETRY_BACKOFF_BASE=2.0, CASCRAWL_RETRY_BACKOFF_MAX=60.0) -> RetryBackoffMiddleware:
    """The middleware outside a running crawl (no engine to ask whether the crawl is stopping)."""
    return RetryBackoffMiddleware(float(CASCRAWL_RETRY_BACKOFF_BASE), float(CASCRAWL_RETRY_BACKOFF_MAX),
                                  get_crawler().stats)


def test_each_retry_waits_twice_as_long_as_the_one_before_up_to_the_maximum(clock):
    backoff = middleware(CASCRAWL_RETRY_BACKOFF_BASE=2.0, CASCRAWL_RETRY_BACKOFF_MAX=60.0)
    waited = waited_per_request(backoff, clock, list(range(1, 9)))
    assert waited == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert backoff.stats.get_value("cascrawl/retry/backoff_seconds") == sum(waited)


def test_a_first_request_is_not_delayed(clock):
    backoff = middleware(CASCRAWL_RETRY_BACKOFF_BASE=2.0)
    assert run(backoff, Request("https://www.cas.cn/yw/")) is None
    assert waited_per_request(backoff, clock, [0]) == [0]
    assert clock.slices == [] and backoff.stats.get_value("cascrawl/retry/backoff_seconds") is None


def test_a_base_of_zero_turns_the_back_off_off(clock):
    backoff = middleware(CASCRAWL_RETRY_BACKOFF_BASE=0)
    assert waited_per_request(backoff, clock, [3]) == [0]


def test_a_small_maximum_caps_the_first_wait_too(clock):
    backoff = middleware(CASCRAWL_RETRY_BACKOFF_BASE=5.0, CASCRAWL_RETRY_BACKOFF_MAX=3.0)
    assert waited_per_request(backoff, clock, [1, 2]) == [3.0, 3.0]
