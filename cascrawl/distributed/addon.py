"""The Scrapy add-on that switches distributed mode on (`Distributed`, in ADDONS): settings only, imports
nothing of the crawl (the components it names are loaded by Scrapy)."""

from __future__ import annotations

from scrapy.settings import SETTINGS_PRIORITIES

REDIS_CALL_SECONDS = 5  # the longest one Redis call may block the reactor thread


class Distributed:
    """Scrapy add-on (ADDONS): with CASCRAWL_REDIS_URL set, puts scrapy-redis's scheduler and duplicate
    filter in place (through the leasing subclasses here), the shared per-host rate, and the
    middlewares that release leases. Without it, does nothing."""

    def update_settings(self, settings) -> None:
        url = settings.get("CASCRAWL_REDIS_URL")
        if not url:
            return
        prefix = f"{settings.get('CASCRAWL_REDIS_PREFIX')}:%(spider)s"
        for name, value in {
            "REDIS_URL": url,
            "SCHEDULER": "cascrawl.distributed.scheduler.LeasingScheduler",
            "SCHEDULER_QUEUE_CLASS": "cascrawl.distributed.queue.LeasingQueue",
            "SCHEDULER_QUEUE_KEY": f"{prefix}:requests",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:dupefilter",
            "SCHEDULER_PERSIST": True,  # the run's keys are cleared by the last worker of a finished run
        }.items():
            settings.set(name, value, priority="addon")
        # Every Redis call runs in the reactor thread: one that hangs or retries there (scrapy-redis: 30 s
        # timeouts, retried; redis-py: retries with sleeps) stalls the whole worker, signals included. Fail
        # within seconds instead; the scheduler rides the outage out without blocking (LeasingScheduler).
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        params = dict(settings.getdict("REDIS_PARAMS"))
        params.setdefault("socket_timeout", REDIS_CALL_SECONDS)
        params.setdefault("socket_connect_timeout", REDIS_CALL_SECONDS)
        params.setdefault("retry_on_timeout", False)
        params.setdefault("retry", Retry(NoBackoff(), 0))
        settings.set("REDIS_PARAMS", params, priority="addon")
        if settings.getpriority("CONCURRENT_REQUESTS") <= SETTINGS_PRIORITIES["default"]:
            # A worker leases what its downloader takes in (CONCURRENT_REQUESTS): keep that to twice what it
            # may send to the host at once, so the work spreads over the workers and a dead one held little.
            settings.set("CONCURRENT_REQUESTS", 2 * max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")),
                         priority="addon")
        handlers = dict(settings.getdict("DOWNLOAD_HANDLERS"))
        for scheme in ("http", "https"):
            handlers.setdefault(scheme, "cascrawl.distributed.handler.SharedRateDownloadHandler")
        settings.set("DOWNLOAD_HANDLERS", handlers, priority="addon")
        spider_middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
        spider_middlewares.setdefault("cascrawl.distributed.middlewares.LeaseSpiderMiddleware", 1)  # next to the engine
        settings.set("SPIDER_MIDDLEWARES", spider_middlewares, priority="addon")
        downloader_middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
        downloader_middlewares.setdefault("cascrawl.distributed.middlewares.LeaseDownloaderMiddleware", 1)  # outermost
        settings.set("DOWNLOADER_MIDDLEWARES", downloader_middlewares, priority="addon")
