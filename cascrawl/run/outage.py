"""Riding out a database that stops answering, at the start of a run (`wait_at_start`: before anything is
fetched, in the reactor thread) and during the crawl (`Outage`: one pause of fetching however many writes
failed, the write tried again with back-off). Which failures are worth waiting for: a connection reason
(server down, network cut) or a SQLite file locked by another writer (cascrawl.db.store.error_kind); a full
disk, a read-only file system, a permission refused or a corrupt database is not waited for."""

from __future__ import annotations

import logging
import signal
import sys
import time

from scrapy.utils.defer import maybe_deferred_to_future
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet import defer, task

from cascrawl.db import Database, RunLocked, safe_url
from cascrawl.db.engine import LOCKED, OUTAGE, error_kind
from cascrawl.engine import engine_of

logger = logging.getLogger(__name__)


def is_outage(error: BaseException) -> bool:
    """A failure that goes away by itself (the connection, the server, a SQLite file locked by another
    writer), not of the rows nor of the storage: worth waiting out."""
    return error_kind(error)[0] in (OUTAGE, LOCKED)


class StartRefused(RunLocked):
    """The run could not start writing (the database stayed locked or away, or cannot be written):
    nothing was fetched; the message says why, in one line (printed like a run lock refusal)."""


def _log_on_terminal() -> bool:
    """Whether the log already streams to the terminal (--verbose, -s LOG_LEVEL, no LOG_FILE)."""
    return any(isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
               and getattr(handler, "stream", None) in (sys.stderr, sys.stdout) for handler in logging.root.handlers)


def tell(message: str) -> None:
    """A warning the operator must see while it lasts: in the log, and on the terminal too."""
    logger.warning("%s", message)
    if not _log_on_terminal():
        print(f"cascrawl: {message}", file=sys.stderr, flush=True)


def sleep(seconds: float):
    from twisted.internet import reactor

    return maybe_deferred_to_future(task.deferLater(reactor, seconds))


async def wait_at_start(database: Database, outage_seconds: float, stats, doing: str, function, *args):
    """Run a write of the run's start (in the reactor thread: nothing is fetched yet). A database locked
    by another writer or away is waited for, up to outage_seconds, and the terminal says so; a database
    that cannot be written, or still not there, refuses the run (StartRefused), and so does SIGINT or
    SIGTERM while waiting (the crawl's own handlers are not installed yet)."""
    where = safe_url(database.url)
    started, delay, stopped = None, 0.5, []
    previous = {number: signal.signal(number, lambda signum, _frame: stopped.append(signum))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                outcome = function(*args)
                if stopped:
                    raise StartRefused(f"stopped by {signal.Signals(stopped[0]).name} before anything was fetched")
            except SQLAlchemyError as error:
                kind, why = error_kind(error)
                line = database.error_line(error)
                if kind not in (OUTAGE, LOCKED) or outage_seconds <= 0:
                    raise StartRefused(f"cannot write to the database {where} ({why}: {line}) while {doing}; "
                                       "nothing was fetched") from None
                now = time.monotonic()
                if started is None:
                    started = now
                    stats.inc_value("cascrawl/db/start_waits")
                    tell(f"waiting for the database {where}: {why} ({line}); trying again for up to "
                         f"{outage_seconds:.0f} s before {doing}")
                if now - started >= outage_seconds:
                    raise StartRefused(f"the database {where} stayed {why} for {now - started:.0f} s ({line}) "
                                       f"while {doing}; nothing was fetched, try again later") from None
                if not stopped:
                    await sleep(min(delay, max(0.05, outage_seconds - (now - started))))
                if stopped:
                    raise StartRefused(f"stopped by {signal.Signals(stopped[0]).name} while waiting for the "
                                       f"database {where} ({why}); nothing was fetched") from None
                delay = min(delay * 2, 4.0)
                continue
            if started is not None:
                waited = time.monotonic() - started
                stats.inc_value("cascrawl/db/start_wait_seconds", round(waited, 1))
                tell(f"the database {where} answers again after {waited:.1f} s: the run goes on")
            return outcome
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class Outage:
    """The database away during the crawl: fetching paused once, the write tried again with back-off for up
    to `seconds`; flushes that fail meanwhile wait (`wait`) instead of pausing again."""

    def __init__(self, crawler, seconds: float):
        self.crawler = crawler
        self.stats = crawler.stats
        self.seconds = max(0.0, seconds)
        self._waiters: list[defer.Deferred] | None = None  # not None while an outage is ridden out
        self._ended: list[defer.Deferred] = []  # flushes to wake once the caller has dealt with the end

    @property
    def ongoing(self) -> bool:
        return self._waiters is not None

    def worth_riding_out(self, error: BaseException) -> bool:
        return is_outage(error) and self.seconds > 0 and _engine_running(self.crawler)

    async def wait(self) -> None:
        """Until the outage ridden out now has ended (and its end been dealt with)."""
        waiter = defer.Deferred()
        self._waiters.append(waiter)
        await maybe_deferred_to_future(waiter)

    async def ride_out(self, error: Exception, error_line: str, kept: int, retry, succeeded) -> tuple[Exception | None, float]:
        """Pause fetching and call `retry()` (an awaitable write of everything kept, raising if it fails) with
        back-off until it succeeds (then `succeeded(its result)`), fails for another reason, the time is up
        or the engine stops. Returns
        (None if the database came back, else the last error; the seconds waited). Fetching stays paused:
        the caller resumes it or gives up, then calls `over()`."""
        self._waiters = []
        self.crawler.engine.pause()
        started = time.monotonic()
        self.stats.inc_value("cascrawl/db/outages")
        kind, why = error_kind(error)
        if kind == LOCKED:
            self.stats.set_value("cascrawl/db/outage_locked", True)
        tell(f"database {why} ({error_line}): fetching paused, {kept} "
             f"articles kept; trying again for up to {self.seconds:.0f} s")
        delay, last_error = 0.5, error
        while True:
            await sleep(min(delay, max(0.05, self.seconds - (time.monotonic() - started))))
            try:
                written = await retry()
            except Exception as again:
                last_error = again
                if not is_outage(again) or time.monotonic() - started >= self.seconds or not _engine_running(self.crawler):
                    break
                delay = min(delay * 2, 4.0)  # a database back is noticed within seconds
                continue
            succeeded(written)
            last_error = None
            break
        waited = time.monotonic() - started
        self.stats.inc_value("cascrawl/db/outage_seconds", round(waited, 1))
        self._ended, self._waiters = self._waiters, None
        return last_error, waited

    def over(self) -> None:
        """The end of the outage dealt with: the flushes that waited go on."""
        waiters, self._ended = self._ended, []
        for waiter in waiters:
            waiter.callback(None)


def _engine_running(crawler) -> bool:
    engine = engine_of(crawler)
    return bool(engine is not None and engine.running)
