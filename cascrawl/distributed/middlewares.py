"""The spider and downloader middlewares that tell the leasing scheduler what became of each leased
request (cascrawl.distributed.scheduler): the items its callback produced, the end of its output, a
download that failed for good."""

from __future__ import annotations

from itemadapter import is_item

from cascrawl.distributed.meta import WALK
from cascrawl.distributed.scheduler import scheduler_of
from cascrawl.walk import walks_of


class LeaseSpiderMiddleware:
    """Tells the scheduler what each leased request's callback produced: items to wait for; the end of
    its output, when the requests it yielded are in the queue (a listing page's lease then goes, with
    its section's walk state)."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_spider_output(self, response, result):
        scheduler = scheduler_of(self.crawler)
        request = response.request
        async for output in result:
            if scheduler is not None and is_item(output):
                scheduler.expect_item(request, output)
            yield output
        if scheduler is not None:
            scheduler.output_done(request, self._walk(request))

    def process_spider_exception(self, response, exception):
        scheduler = scheduler_of(self.crawler)
        if scheduler is not None:
            scheduler.output_done(response.request)

    def _walk(self, request) -> dict | None:
        if WALK not in request.meta:
            return None
        walk = walks_of(self.crawler).get(request.cb_kwargs.get("section"))
        return walk.shared_state() if walk is not None else None


class LeaseDownloaderMiddleware:
    """Outermost downloader middleware: a download that failed for good (no retry returned) reaches
    here last, before the request's errback."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_exception(self, request, exception):
        scheduler = scheduler_of(self.crawler)
        if scheduler is not None:
            scheduler.download_failed(request)
        return None
