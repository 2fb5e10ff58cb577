"""`scrapy crawl`, as Scrapy's, but a database that cannot be used (unreachable, schema behind) or another run
holding the lock is one line on stderr and exit code 1 — the same line `cascrawl crawl` prints — before the
engine starts, instead of tracebacks."""

from __future__ import annotations

import sys

from scrapy.commands.crawl import Command as ScrapyCrawl


class Command(ScrapyCrawl):
    def run(self, args, opts) -> None:
        if len(args) == 1:
            problem = cannot_crawl(self.settings)
            if problem:
                print(f"cascrawl: error: {problem}", file=sys.stderr)
                self.exitcode = 1
                return
        self._run_with_cascrawl_signals(args, opts)

    def _run_with_cascrawl_signals(self, args, opts) -> None:
        """Scrapy's run, with cascrawl's SIGTERM / SIGINT handling (cascrawl.crawl.ShutdownSignals: a second
        signal ends the process within seconds, a third kills; Scrapy's ignore a third)."""
        from scrapy.exceptions import UsageError

        from cascrawl.crawl import ShutdownSignals

        if len(args) != 1:
            raise UsageError("running 'scrapy crawl' needs exactly one spider")
        crawler = self._create_crawler(args[0])
        shutdown = ShutdownSignals(self.crawler_process)
        shutdown.watch(crawler)
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start(install_signal_handlers=False)
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        elif shutdown.at_once:  # as `cascrawl crawl`: not 0, the run did not end by itself
            self.exitcode = 128 + shutdown.received[0]


def cannot_crawl(settings) -> str | None:
    """Why a crawl into CASCRAWL_DATABASE_URL cannot start now, or None. The run takes the lock itself when
    its run record (cascrawl/run/record.py) opens; this only looks (a run starting in between is still refused there). A worker
    of a distributed crawl (CASCRAWL_REDIS_URL) needs PostgreSQL and Redis, and shares the lock."""
    from cascrawl.db import Database, DatabaseError, RunLock, RunLocked
    from cascrawl.distributed import refusal

    if problem := refusal(settings):
        return problem
    try:
        database = Database(settings.get("CASCRAWL_DATABASE_URL")).open(
            auto_upgrade=settings.getbool("CASCRAWL_DB_AUTO_UPGRADE"))
    except DatabaseError as error:
        return str(error)
    try:
        RunLock(database, shared=bool(settings.get("CASCRAWL_REDIS_URL"))).acquire().release()
    except RunLocked as error:
        return str(error)
    finally:
        database.close()
    return None
