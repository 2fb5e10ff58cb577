"""The live progress display, a Scrapy extension. (The run record, with its health check, is cascrawl/run/record.py;
the drift report cascrawl/drift.py.)"""

from __future__ import annotations

from scrapy import signals

from cascrawl import stats_keys
from cascrawl.walk import walks_of

class LiveProgress:
    """A live progress display on standard error while the crawl runs (rich), three short lines:

        sections ━━━━━━━━━━━━╸━━━━━━━ 7/11 · listing pages 10
        articles 25 fetched · stored 13 new, 0 updated, 0 unchanged · 0 rejected
        0:00:07 elapsed · 315 pages/min

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
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

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
        self.live.update(Group(first, articles, pace), refresh=True)

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
