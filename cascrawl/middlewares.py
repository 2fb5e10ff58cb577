"""Downloader middlewares of cascrawl."""

from __future__ import annotations

import logging
import time

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.task import deferLater

from cascrawl.engine import engine_of
from cascrawl.hosts import HostPolicy, OffsiteRequest, count_offsite, host_of, offsite_reason
from cascrawl.walk import walks_of

logger = logging.getLogger(__name__)


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
        engine = engine_of(self.crawler)
        return engine is not None and not engine.running


class HostPolicyMiddleware:
    """Never leave the site: every request — from a listing, a 3xx Location, a meta refresh, a retry,
    robots.txt — must go to an allowed host (`cascrawl.hosts.HostPolicy`: www.cas.cn and cas.cn, i.e.
    CASCRAWL_ALLOWED_HOSTS, or exactly the base URL's host and port). Any other is refused before
    robots.txt is asked (this runs first, in place of Scrapy's OffsiteMiddleware, which matches
    subdomains and ignores ports), with an `OffsiteRequest` to the request's errback: the spider
    records it as a reject of the article that pointed there. Counted in
    `cascrawl/offsite/<reason>` and `cascrawl/offsite/host/<host>`; each host logged once per run."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.site_hosts = crawler.settings.getlist("CASCRAWL_ALLOWED_HOSTS")
        self.policy = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _policy(self) -> HostPolicy:
        if self.policy is None:
            base_url = walks_of(self.crawler).base_url or self.crawler.settings.get("CASCRAWL_BASE_URL")
            self.policy = HostPolicy.for_base_url(base_url, self.site_hosts)
        return self.policy

    def process_request(self, request):
        if self._policy().allows(request.url):
            return None
        reason = offsite_reason(request.meta.get("redirect_reasons") or [])
        origin = (request.meta.get("redirect_urls") or [request.url])[0]
        host = host_of(request.url)
        self.stats.inc_value("cascrawl/offsite/requests_refused")
        self.stats.inc_value(f"cascrawl/offsite/{reason}")
        if count_offsite(self.stats, host):
            logger.warning("refused a request off the site to %s (%s, from %s); further ones to this host are "
                           "refused without a log line", host, reason, origin)
        raise OffsiteRequest(reason, request.url, origin)


class ResponseSizeMiddleware:
    """Tells a response cut for its size from other cancelled downloads. Scrapy's download handler
    cancels a response whose bytes received pass DOWNLOAD_MAXSIZE with a bare CancelledError (no
    message; an announced Content-Length over the limit and a body that inflates past it do say so);
    this counts the bytes of each request (the `bytes_received` signal) and marks an oversized one
    with `request.meta["cascrawl_too_large"]`, which the spider turns into a `too_large` reject."""

    def __init__(self, crawler):
        self.max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        request.meta["cascrawl_bytes_received"] = 0  # per attempt: a retry starts again
        return None

    def bytes_received(self, data, request, spider=None):
        received = request.meta.get("cascrawl_bytes_received", 0) + len(data)
        request.meta["cascrawl_bytes_received"] = received
        limit = request.meta.get("download_maxsize", self.max_size)
        if limit and received > limit:
            request.meta["cascrawl_too_large"] = received
