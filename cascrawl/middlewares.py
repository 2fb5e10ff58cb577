"""Downloader middlewares of cascrawl."""

from __future__ import annotations

import time

from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.task import deferLater


class RetryBackoffMiddleware:
    """Exponential backoff for retries: Scrapy's RetryMiddleware re-sends a failed request at once;
    a struggling site deserves a pause. The n-th retry of a request waits
    CASCRAWL_RETRY_BACKOFF_BASE * 2**(n-1) seconds, at most CASCRAWL_RETRY_BACKOFF_MAX.

    A graceful stop (SIGTERM) does not wait for a back-off: the waiting retry is dropped (its page is
    a transient reject, tried again by the next run)."""

    def __init__(self, base: float, maximum: float, stats, crawler=None):
        self.base, self.maximum, self.stats, self.crawler = base, maximum, stats, crawler

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(settings.getfloat("CASCRAWL_RETRY_BACKOFF_BASE"), settings.getfloat("CASCRAWL_RETRY_BACKOFF_MAX"),
                   crawler.stats, crawler)

    async def process_request(self, request):
        retries = request.meta.get("retry_times", 0)
        if retries and self.base > 0:
            delay = min(self.base * 2 ** (retries - 1), self.maximum)
            self.stats.inc_value("cascrawl/retry/backoff_seconds", delay)
            until = time.monotonic() + delay
            while (left := until - time.monotonic()) > 0:
                await maybe_deferred_to_future(deferLater(reactor, min(left, 0.5)))
                if self._stopping():
                    self.stats.inc_value("cascrawl/retry/dropped_on_stop")
                    raise IgnoreRequest("the crawl is stopping: retry left to the next run")
        return None

    def _stopping(self) -> bool:
        engine = getattr(self.crawler, "engine", None)
        return engine is not None and not engine.running
