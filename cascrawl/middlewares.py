"""Downloader middlewares of cascrawl."""

from __future__ import annotations

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.task import deferLater


class RetryBackoffMiddleware:
    """Exponential backoff for retries: Scrapy's RetryMiddleware re-sends a failed request at once;
    a struggling site deserves a pause. The n-th retry of a request waits
    CASCRAWL_RETRY_BACKOFF_BASE * 2**(n-1) seconds, at most CASCRAWL_RETRY_BACKOFF_MAX."""

    def __init__(self, base: float, maximum: float, stats):
        self.base, self.maximum, self.stats = base, maximum, stats

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(settings.getfloat("CASCRAWL_RETRY_BACKOFF_BASE"), settings.getfloat("CASCRAWL_RETRY_BACKOFF_MAX"),
                   crawler.stats)

    async def process_request(self, request):
        retries = request.meta.get("retry_times", 0)
        if retries and self.base > 0:
            delay = min(self.base * 2 ** (retries - 1), self.maximum)
            self.stats.inc_value("cascrawl/retry/backoff_seconds", delay)
            await maybe_deferred_to_future(deferLater(reactor, delay))
        return None
