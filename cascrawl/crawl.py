"""Run the cas_news spider in this process and read what happened from its stats."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.ossignal import install_shutdown_handlers

from cascrawl import stats_keys
from cascrawl.run.verdict import Verdict, site_unreachable, verdict
from cascrawl.runlog import guard_log_files
from cascrawl.spool import summary_lines as spool_summary_lines
from cascrawl.walk import walks_of
from cascrawl.spiders.cas_news import CasNewsSpider

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestCounts:
    total: int
    robots: int
    listing: int  # listing requests (a section answering 404, a page not read, failed attempts included)
    articles: int  # article pages asked for, revalidations included


def request_counts(stats: dict) -> RequestCounts:
    """Where a run's requests went, from its stats: the figure users feel on the live site."""
    total = int(stats.get(stats_keys.REQUEST_COUNT, 0) or 0)
    robots = int(stats.get("robotstxt/request_count", 0) or 0)
    # every listing request: read, a section answering 404, unread (404/410, not HTML, too large), or each
    # attempt at one that failed after retries
    listing = sum(int(stats.get(f"cascrawl/{key}", 0) or 0) for key in (
        "listing_pages", "sections_missing", "listing_pages_missing", "listing_pages_not_html",
        "listing_pages_too_large", "listing_fetch_attempts_failed"))
    return RequestCounts(total, robots, listing, total - robots - listing)


@dataclass
class CrawlOutcome:
    base_url: str
    sections: list[str]
    stats: dict = field(default_factory=dict)
    first_error: str | None = None
    stop_signal: int | None = None  # SIGTERM / SIGINT that stopped the run
    stopped_at_once: bool = False  # a second signal: the reactor stopped with requests in flight

    def _count(self, key: str) -> int:
        return int(self.stats.get(key, 0) or 0)

    @property
    def unreachable(self) -> bool:
        """No listing page answered and fetching them failed, and nothing answered at all (a 503 is an answer:
        the site is there, and the run is degraded, not unreachable): the site is not there."""
        return site_unreachable(self.stats)

    @property
    def locked(self) -> str | None:
        return self.stats.get(stats_keys.RUN_LOCKED)

    @property
    def verdict(self) -> Verdict:
        """How the run went (cascrawl/run/verdict.py, the one home of those rules): the exit code, the
        summary's headline, the health problems."""
        return verdict(self.stats, stop_signal=self.stop_signal, stopped_at_once=self.stopped_at_once)

    @property
    def problems(self) -> list[str]:
        """The health check's alarms, in words (the verdict's other problems have their own lines)."""
        return self.verdict.alarms

    @property
    def exit_code(self) -> int:
        """0 ok; 2 degraded (a layout alarm, a section missing or not fetched, listing pages not read, callback
        errors); 1 failed (the site unreachable, storing failed);
        128 + the signal's number when stopped by SIGTERM (143) or SIGINT (130), everything fetched written."""
        return self.verdict.exit_code

    def rejects(self) -> dict[str, int]:
        prefix = stats_keys.REJECTED_PREFIX
        return {key[len(prefix):]: int(value) for key, value in self.stats.items() if key.startswith(prefix)}

    def summary(self, database: str) -> str:
        """One screen: what was fetched, what was stored, what was rejected, how complete, what is wrong."""
        count = self._count
        rejects = self.rejects()
        status = self.verdict.headline
        requests = request_counts(self.stats)
        statuses = sorted((key.rsplit("/", 1)[1], int(value)) for key, value in self.stats.items()
                          if key.startswith("downloader/response_status_count/"))
        elapsed = self.stats.get("elapsed_time_seconds")
        run_id = self.stats.get(stats_keys.RUN_ID)
        lines = [
            f"crawl run {run_id if run_id is not None else '-'}: {status}"
            + (f" in {float(elapsed):.1f} s" if elapsed is not None else "")
            + f" ({self.base_url}, sections {','.join(self.sections)})",
            f"requests: {requests.total} (robots.txt {requests.robots}, listing pages {requests.listing}, "
            f"articles {requests.articles})"
            + (f"; responses {', '.join(f'{code}: {n}' for code, n in statuses)}" if statuses else ""),
            f"articles: {count(stats_keys.ARTICLES_INSERTED)} new, {count(stats_keys.ARTICLES_REVISED)} updated, "
            f"{count(stats_keys.ARTICLES_UNCHANGED) + count(stats_keys.ARTICLES_REFRESHED)} unchanged, "
            f"{count('cascrawl/refresh/not_modified')} not modified (304); "
            f"{count(stats_keys.ARTICLES_UPSERTED)} articles stored, {sum(rejects.values())} rejected"
            + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(rejects.items()))})" if rejects else ""),
        ]
        pages = count(stats_keys.COVERAGE_PAGES)
        if pages:
            shares = ", ".join(f"{name} {float(self.stats.get(f'cascrawl/coverage/share/{name}', 0)):.0%}"
                               for name in ("title", "date", "body", "source"))
            lines.append(f"coverage: {shares} of {pages} article pages"
                         + (f"; {count(stats_keys.GENERIC_FALLBACK)} by the generic extractor"
                            if count(stats_keys.GENERIC_FALLBACK) else ""))
        lines.append(f"database: {database}")
        if self.stats.get(stats_keys.REDIS_WORKER):
            lines.append(f"distributed: worker {self.stats[stats_keys.REDIS_WORKER]} took {count('cascrawl/redis/leased')} "
                         f"requests from the shared queue; {count('cascrawl/redis/queued_at_close')} left in it at its end")
        lines.extend(spool_summary_lines(self.stats))  # the spool, database outages and failures
        if self.stats.get(stats_keys.REDIS_OUTAGE_SECONDS) is not None and not self.stats.get(stats_keys.REDIS_STOPPED):
            lines.append(f"Redis outage ridden out: fetching paused {float(self.stats.get(stats_keys.REDIS_OUTAGE_SECONDS, 0)):.1f} s "
                         f"({count('cascrawl/redis/outages')} time(s))")
        if self.stats.get(stats_keys.REDIS_STOPPED):
            lines.append(f"error: {self.stats.get('cascrawl/redis/stopped_because')}")
        incomplete = self.stats.get(stats_keys.WALKS_INCOMPLETE) or []
        if incomplete:
            lines.append(f"incomplete: sections {','.join(incomplete)} were not walked to their end; the next run goes on")
        for found in self.verdict.problems:
            if found["code"] in ("section_missing", "section_failed"):
                lines.append(f"warning: {found['text']} (see the log)")
        if count(stats_keys.LISTING_FETCH_FAILED):
            lines.append(f"warning: {count(stats_keys.LISTING_FETCH_FAILED)} listing page(s) could not be fetched")
        if self.stopped_at_once:
            name = signal.Signals(self.stop_signal or signal.SIGTERM).name
            lines.append(f"stopped at once by a second {name}: the requests in flight and the items not yet written "
                         f"were dropped; the next run fetches them again (and records this run as interrupted)")
        lines.extend(f"alarm: {problem}" for problem in self.problems)
        lines.append(f"finish reason: {self.stats.get(stats_keys.FINISH_REASON)}")
        return "\n".join(lines)


class ShutdownSignals:
    """SIGTERM / SIGINT for a crawl: the first stops gracefully (Scrapy's `process.stop`: the requests in
    flight finish, every pending item is written); the second stops at once — the reactor is stopped and
    the process ends within CASCRAWL_STOP_AT_ONCE_SECONDS (what was not yet written is fetched again by the next
    run; the run lock goes with the process); a third kills it outright (the kernel's default action, no
    Python code involved). Installed at engine start (`install`, connected to `engine_started` by
    `watch`) in place of Scrapy's handlers, which ignore a third signal."""

    def __init__(self, process: CrawlerProcess):
        self.process = process
        self.received: list[int] = []
        self.deadline = process.settings.getfloat("CASCRAWL_STOP_AT_ONCE_SECONDS")

    def watch(self, crawler) -> None:
        # The signal manager holds only a weak reference to its receivers: this object must stay alive.
        crawler.signals.connect(self.install, signal=signals.engine_started)

    def install(self) -> None:
        install_shutdown_handlers(self._stop_gracefully)

    @property
    def at_once(self) -> bool:
        return len(self.received) > 1

    def _stop_gracefully(self, signum, _frame) -> None:  # no logging here: a handler may interrupt a log write
        from twisted.internet import reactor  # the one Scrapy installed (TWISTED_REACTOR)

        self.received.append(signum)
        install_shutdown_handlers(self._stop_now)
        reactor.callFromThread(logger.warning, "received %s: finishing the requests in flight and writing every "
                               "pending item; send it again to stop at once", signal.Signals(signum).name)
        # AsyncCrawlerProcess (`scrapy crawl` with the asyncio reactor) has a coroutine for a stop
        reactor.callFromThread(lambda: deferred_from_coro(self.process.stop()))

    def _stop_now(self, signum, _frame) -> None:
        from twisted.internet import reactor

        self.received.append(signum)
        for number in (signal.SIGTERM, signal.SIGINT):  # a third one kills
            signal.signal(number, signal.SIG_DFL)
        _exit_after(self.deadline, 128 + self.received[0])
        reactor.callFromThread(logger.warning, "received %s again: stopping at once (what is not written yet is "
                               "fetched again by the next run)", signal.Signals(signum).name)
        reactor.callFromThread(_stop_reactor, reactor)


def _exit_after(seconds: float, code: int) -> None:
    """End the process in `seconds` should it still be running then (a daemon thread: a process that ends
    sooner does not wait for it)."""

    def watchdog():
        time.sleep(seconds)
        try:
            os.write(2, f"cascrawl: stopped at once: still running {seconds:.0f} s after the second signal, "
                        f"exiting now\n".encode())
        finally:
            os._exit(code)

    threading.Thread(target=watchdog, name="cascrawl-stop-at-once", daemon=True).start()


def run_crawl(settings: Settings) -> CrawlOutcome:
    """Crawl with these settings (CASCRAWL_BASE_URL, CASCRAWL_SECTIONS, …) and block until done.

    SIGTERM / SIGINT: stop scheduling, let the requests in flight finish (each within DOWNLOAD_TIMEOUT),
    write every pending item, record the run as stopped. A second signal stops at once (within
    CASCRAWL_STOP_AT_ONCE_SECONDS; what was not yet written is fetched again by the next run), a third kills."""
    process = CrawlerProcess(settings)
    guard_log_files()  # a full disk under the log file: one line on stderr, not a traceback per log line
    crawler = process.create_crawler(CasNewsSpider)
    shutdown = ShutdownSignals(process)
    # At engine start (Scrapy's own handlers are not installed: install_signal_handlers=False below).
    shutdown.watch(crawler)
    # A crawl that cannot start (the run lock, the database) fails this Deferred: say so in the log here,
    # or the garbage collector prints it on stderr at exit ("Unhandled error in Deferred", a traceback).
    process.crawl(crawler).addErrback(_crawl_failed)
    process.start(install_signal_handlers=False)
    stats = crawler.stats.get_stats()
    return CrawlOutcome(
        base_url=walks_of(crawler).base_url or settings.get("CASCRAWL_BASE_URL"),
        sections=list(walks_of(crawler).sections),
        stats=stats,
        first_error=stats.get(stats_keys.FIRST_FETCH_ERROR),
        stop_signal=shutdown.received[0] if shutdown.received else None,
        stopped_at_once=shutdown.at_once,
    )


def _crawl_failed(failure) -> None:
    from scrapy.utils.log import failure_to_exc_info

    from cascrawl.db import RunLocked

    if failure.check(RunLocked):  # expected: one line, the caller prints it too
        logger.error("%s", failure.getErrorMessage())
    else:
        logger.error("the crawl failed: %s", failure.getErrorMessage(), exc_info=failure_to_exc_info(failure))


def _stop_reactor(reactor) -> None:
    try:
        reactor.stop()
    except Exception:  # already stopping
        pass
