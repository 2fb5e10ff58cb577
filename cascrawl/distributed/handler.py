"""The download handler that keeps one per-host rate for the whole distributed crawl (a Redis key per
host, cascrawl.distributed.cluster.Cluster.wait_for_host)."""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.utils.defer import maybe_deferred_to_future

from cascrawl.distributed.cluster import REDIS_OUTAGE_ERRORS
from cascrawl.distributed.scheduler import scheduler_of


class SharedRateDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, sending a request only when DOWNLOAD_DELAY seconds have passed since
    any worker's last request to that host (and port). Checked when the download starts, so a request
    waiting for its worker's own slot never takes the host's turn early. DOWNLOAD_DELAY = 0: no wait."""

    lazy = False

    def __init__(self, crawler):
        super().__init__(crawler)
        self.gap = crawler.settings.getfloat("DOWNLOAD_DELAY")

    async def download_request(self, request):
        scheduler = scheduler_of(self._crawler)
        if self.gap > 0 and scheduler is not None:
            from twisted.internet import reactor, task

            host = urlsplit(request.url).netloc
            waited = 0.0
            while not scheduler.redis_unavailable:
                try:
                    wait = scheduler.cluster.wait_for_host(host, self.gap)
                except REDIS_OUTAGE_ERRORS as error:  # this request goes on its worker's own delay
                    scheduler._redis_lost(error)
                    break
                if wait <= 0:
                    break
                waited += wait
                await maybe_deferred_to_future(task.deferLater(reactor, wait))
            if waited:
                self._crawler.stats.inc_value("cascrawl/redis/host_wait_seconds", round(waited, 3))
        return await super().download_request(request)
