"""The live progress display, a Scrapy extension, and the downloader middleware that tells it of failed fetches
as they happen (DNS, refused, timed out). (The run record, with its health check, is cascrawl/run/record.py;
the drift report cascrawl/drift.py.)"""

from __future__ import annotations

from scrapy import signals

from cascrawl import stats_keys
from cascrawl.walk import walks_of

# Sent by FetchFailures for each request whose download failed: request=, reason= (a few words), retry= (the
# retry that follows, 0 when none does), retries= (how many one request gets).
fetch_failed = object()

class LiveProgress:
    """A live progress display on standard error while the crawl runs (rich), three short lines:

        sections ━━━━━━━━━━━━╸━━━━━━━ 7/11 · listing pages 10
        articles 25 fetched · stored 13 new, 0 updated, 0 unchanged · 0 rejected
        0:00:07 elapsed · 315 pages/min
        www.cas.cn: DNS lookup failed, retry 1 of 2

    (the last line only while fetches fail: the latest failure, until a response comes from that host).

    On only with CASCRAWL_PROGRESS (`cascrawl crawl` sets it when stderr is a terminal and the log is not
    streamed there). Read from the crawler's stats in the reactor thread, redrawn every
    CASCRAWL_PROGRESS_INTERVAL seconds and once more at the end, then cleared for the summary."""

    def __init__(self, crawler, interval: float):
        from rich.console import Console
        from rich.live import Live

        self.crawler = crawler
        self.interval = interval
        self.live = Live(console=Console(stderr=True), auto_refresh=False, transient=True,
                         redirect_stdout=False, redirect_stderr=False)
        self.timer = None
        self.failure: tuple[str, str] | None = None  # (host, what the display says) of the latest failed fetch
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.fetch_failed, signal=fetch_failed)
        crawler.signals.connect(self.response_received, signal=signals.response_received)

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy.exceptions import NotConfigured

        if not crawler.settings.getbool("CASCRAWL_PROGRESS"):
            raise NotConfigured
        return cls(crawler, crawler.settings.getfloat("CASCRAWL_PROGRESS_INTERVAL"))

    def spider_opened(self, spider):
        from twisted.internet import reactor, task

        self.live.start()
        # A crawl stopped at once (a second signal) stops the reactor without closing the spider: the display
        # is cleared then too, the cursor given back.
        reactor.addSystemEventTrigger("before", "shutdown", self.clear)
        self.update(spider)
        self.timer = task.LoopingCall(self.update, spider)
        self.timer.start(self.interval, now=False)

    def update(self, spider):
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        book = walks_of(self.crawler)
        total, walked = len(book.sections), book.sections_walked()
        sections, articles, pace = progress_lines(self.crawler.stats.get_stats(), walked, total)
        first = Table.grid(padding=(0, 1))
        first.add_row("sections", ProgressBar(total=max(total, 1), completed=walked, width=20), sections)
        lines = [first, articles, pace] + ([self.failure[1]] if self.failure else [])
        self.live.update(Group(*lines), refresh=True)

    def fetch_failed(self, request, reason: str, retry: int, retries: int):
        from urllib.parse import urlsplit

        host = urlsplit(request.url).netloc
        self.failure = (host, describe_fetch_failure(host, reason, retry, retries))

    def response_received(self, response, request, spider):
        from urllib.parse import urlsplit

        if self.failure and urlsplit(response.url).netloc == self.failure[0]:
            self.failure = None  # the host answers again

    def spider_closed(self, spider):
        if self.live.is_started:
            self.update(spider)  # the final counts, drawn once before the display is cleared
        self.clear()

    def clear(self):
        if self.timer is not None and self.timer.running:
            self.timer.stop()
        if self.live.is_started:
            self.live.stop()


def progress_lines(stats: dict, walked: int, total: int, now=None) -> tuple[str, str, str]:
    """The text of the live progress display, from the crawler's stats (stored counts grow batch by batch,
    as the database writes them)."""
    from datetime import datetime, timezone

    def count(key: str) -> int:
        return int(stats.get(key, 0) or 0)

    rejected = sum(int(value or 0) for key, value in stats.items() if key.startswith(stats_keys.REJECTED_PREFIX))
    unchanged = count(stats_keys.ARTICLES_UNCHANGED) + count(stats_keys.ARTICLES_REFRESHED)
    sections = f"{walked}/{total} · listing pages {count(stats_keys.LISTING_PAGES)}"
    articles = (f"articles {count(stats_keys.COVERAGE_PAGES)} fetched · stored {count(stats_keys.ARTICLES_INSERTED)} "
                f"new, {count(stats_keys.ARTICLES_REVISED)} updated, {unchanged} unchanged · {rejected} rejected")
    start = stats.get("start_time")
    seconds = max(0.0, ((now or datetime.now(timezone.utc)) - start).total_seconds()) if start else 0.0
    minutes, second = divmod(int(seconds), 60)
    pace = f"{minutes // 60}:{minutes % 60:02d}:{second:02d} elapsed"
    if seconds >= 1:
        pace += f" · {count('response_received_count') / (seconds / 60):.0f} pages/min"
    return sections, articles, pace


def describe_fetch_failure(host: str, reason: str, retry: int, retries: int) -> str:
    """`www.cas.cn: DNS lookup failed, retry 1 of 2`; `…, no retry left` when the request is given up."""
    then = f"retry {retry} of {retries}" if retry else "no retry left"
    return f"{host}: {reason}, {then}"


# Failures a retry may cure, by class name along the exception's classes: Twisted's own and the ones Scrapy
# wraps them in (scrapy.exceptions.CannotResolveHostError, DownloadConnectionRefusedError, …, in newer releases).
_REASONS = {
    "DNSLookupError": "DNS lookup failed", "CannotResolveHostError": "DNS lookup failed",
    "ConnectionRefusedError": "connection refused", "DownloadConnectionRefusedError": "connection refused",
    "TimeoutError": "timed out", "TCPTimedOutError": "timed out", "DownloadTimeoutError": "timed out",
    "ConnectionLost": "connection lost", "ConnectionDone": "connection lost", "ResponseFailed": "connection lost",
    "ResponseDataLossError": "connection lost",
    "ConnectError": "could not connect", "TunnelError": "could not connect", "DownloadFailedError": "download failed",
}


def failure_reason(exception: BaseException) -> str | None:
    """A failed download in a few words, for the network failures a retry may cure; None for anything else."""
    for kind in type(exception).__mro__:
        if kind.__name__ in _REASONS:
            return _REASONS[kind.__name__]
    return None


class FetchFailures:
    """Downloader middleware (just above Scrapy's RetryMiddleware, so it sees a failure before the retry is
    scheduled): each download that failed for a network reason is sent as the `fetch_failed` signal, with
    the retry that follows. On only with the progress display (CASCRAWL_PROGRESS)."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.retries = crawler.settings.getint("RETRY_TIMES")
        self.retrying = crawler.settings.getbool("RETRY_ENABLED")

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy.exceptions import NotConfigured

        if not crawler.settings.getbool("CASCRAWL_PROGRESS"):
            raise NotConfigured
        return cls(crawler)

    def process_exception(self, request, exception, spider=None):
        reason = failure_reason(exception)
        if reason is None:
            return None
        retries = request.meta.get("max_retry_times", self.retries) if self.retrying else 0
        done = request.meta.get("retry_times", 0)
        if request.meta.get("dont_retry"):
            retries = done
        retry = done + 1 if done < retries else 0
        self.crawler.signals.send_catch_log(fetch_failed, request=request, reason=reason, retry=retry,
                                            retries=retries)
        return None  # Scrapy's RetryMiddleware decides; this only tells
