"""The retry back-off of cascrawl/middlewares.py, delay by delay: CASCRAWL_RETRY_BACKOFF_BASE * 2**(n-1)
seconds before the n-th retry, never more than CASCRAWL_RETRY_BACKOFF_MAX (README, "Politeness")."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler
from twisted.internet import defer

import cascrawl.middlewares as middlewares
from cascrawl.middlewares import RetryBackoffMiddleware


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Every pause the middleware asks the reactor for, without waiting it."""
    asked: list[float] = []

    def defer_later(clock, delay, *args, **kwargs):
        asked.append(delay)
        return defer.succeed(None)

    monkeypatch.setattr(middlewares, "deferLater", defer_later)
    return asked


def run(middleware: RetryBackoffMiddleware, request: Request):
    coroutine = middleware.process_request(request)
    with pytest.raises(StopIteration) as done:
        coroutine.send(None)  # every awaited Deferred has already fired: it completes in one step
    return done.value.value


def middleware(**settings) -> RetryBackoffMiddleware:
    crawler = get_crawler(settings_dict=settings)
    return RetryBackoffMiddleware.from_crawler(crawler)


def test_each_retry_waits_twice_as_long_as_the_one_before_up_to_the_maximum(waits):
    backoff = middleware(CASCRAWL_RETRY_BACKOFF_BASE=2.0, CASCRAWL_RETRY_BACKOFF_MAX=60.0)
    for retries in range(1, 9):
        assert run(backoff, Request("https://www.cas.cn/yw/", meta={"retry_times": retries})) is None
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert backoff.stats.get_value("cascrawl/retry/backoff_seconds") == sum(waits)


def test_a_first_request_is_not_delayed(waits):
    backoff = middleware(CASCRAWL_RETRY_BACKOFF_BASE=2.0)
    assert run(backoff, Request("https://www.cas.cn/yw/")) is None
    assert run(backoff, Request("https://www.cas.cn/yw/", meta={"retry_times": 0})) is None
    assert waits == [] and backoff.stats.get_value("cascrawl/retry/backoff_seconds") is None


def test_a_base_of_zero_turns_the_back_off_off(waits):
    backoff = middleware(CASCRAWL_RETRY_BACKOFF_BASE=0)
    run(backoff, Request("https://www.cas.cn/yw/", meta={"retry_times": 3}))
    assert waits == []


def test_a_small_maximum_caps_the_first_wait_too(waits):
    backoff = middleware(CASCRAWL_RETRY_BACKOFF_BASE=5.0, CASCRAWL_RETRY_BACKOFF_MAX=3.0)
    for retries in (1, 2):
        run(backoff, Request("https://www.cas.cn/yw/", meta={"retry_times": retries}))
    assert waits == [3.0, 3.0]
