"""cas_news: walk the news sections of www.cas.cn (or a copy of it) and hand article pages to extraction."""

from __future__ import annotations

from datetime import datetime, timezone

import scrapy
from scrapy.http import TextResponse

from cascrawl import stats_keys
from cascrawl.article_page import failed_fetch_item, fill_from_page, response_item, to_extract
from cascrawl.encoding import decode_html
from cascrawl.extraction import extraction_of
from cascrawl.hosts import count_offsite
from cascrawl.parsers import parse_listing
from cascrawl.sections import parse_sections
from cascrawl.urls import listing_page_url, normalize_base_url, section_url, site_link
from cascrawl.walk import WALK, Boundary, SectionWalk, Step, deep_walk_reason, walks_of

# Handled by the callbacks instead of being filtered out by HttpErrorMiddleware.
_HANDLED_STATUSES = [404, 410]
_REFRESH_STATUSES = [304, 404, 410]


class CasNewsSpider(scrapy.Spider):
    """Arguments (`-a name=value`): sections=yw,syky  base_url=https://mirror  max_pages=N (listing pages per section).

    Incremental by default (CASCRAWL_INCREMENTAL): an article already stored (or rejected and not yet
    due again) is not fetched, and paging a section stops at the listing page that holds the first
    entry of the last *complete* walk (its boundary, in `section_walks`), plus CASCRAWL_OVERLAP_PAGES - 1
    pages, and further while pages below the boundary list articles it does not hold (late ones); every
    CASCRAWL_DEEP_WALK_DAYS a run walks every listing page instead. A walk cut short, or with a listing
    page it could not read, never moves the boundary, so the next run walks on until it meets it (the
    rules: cascrawl/walk.py).
    Rejected pages that are due again are requested directly. CASCRAWL_REFRESH_DAYS=N re-fetches the
    last N days' articles with conditional GETs.
    """

    name = "cas_news"

    def __init__(self, sections=None, base_url=None, max_pages=None, **kwargs):
        super().__init__(**kwargs)
        self._sections_arg, self._base_url_arg, self._max_pages_arg = sections, base_url, max_pages

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.sections = parse_sections(spider._sections_arg or settings.getlist("CASCRAWL_SECTIONS"))
        spider.base_url = normalize_base_url(spider._base_url_arg or settings.get("CASCRAWL_BASE_URL"))
        max_pages = spider._max_pages_arg if spider._max_pages_arg is not None else settings.getint("CASCRAWL_MAX_PAGES")
        spider.max_pages = int(max_pages)  # 0 = no limit
        spider.incremental = settings.getbool("CASCRAWL_INCREMENTAL")
        spider.overlap_pages = max(1, settings.getint("CASCRAWL_OVERLAP_PAGES"))
        spider.deep_walk_days = settings.getfloat("CASCRAWL_DEEP_WALK_DAYS")  # 0 = never
        spider.refresh_days = max(0, settings.getint("CASCRAWL_REFRESH_DAYS"))
        spider.database_url = settings.get("CASCRAWL_DATABASE_URL")
        spider.max_page_tags = settings.getint("CASCRAWL_MAX_PAGE_TAGS") or 10**12  # 0 = no limit
        spider.known_urls = set()
        spider.book = walks_of(crawler)
        spider.book.sections = list(spider.sections)
        spider.book.base_url = spider.base_url
        return spider

    # --- requests ---

    async def start(self):
        refresh, due = self._load_history()
        for section in self.sections:
            yield self._listing_request(section, 0)
        for page in due:  # rejected earlier and due again: straight to the page, whatever its listing says
            url = site_link(page.url, page.url, self.base_url)  # the canonical URL, moved onto the crawled copy
            if url:
                yield scrapy.Request(url, callback=self.fetch_article, errback=self.article_failed,
                                     cb_kwargs={"section": page.section}, meta={"handle_httpstatus_list": _HANDLED_STATUSES})
        for stored in refresh:
            headers = {}
            if stored.etag:
                headers["If-None-Match"] = stored.etag
            if stored.last_modified:
                headers["If-Modified-Since"] = stored.last_modified
            yield scrapy.Request(
                site_link(stored.url, stored.url, self.base_url),
                headers=headers,
                callback=self.fetch_article,
                errback=self.article_failed,
                cb_kwargs={"section": stored.section},
                meta={"handle_httpstatus_list": _REFRESH_STATUSES, "cascrawl_refresh": True},
            )

    def _load_history(self) -> tuple[list, list]:
        """From the database: known URLs, the sections' boundaries, the rejected pages due again and
        the articles to revalidate."""
        from cascrawl.db import crawl_history

        history = crawl_history(self.database_url, self.sections, self.refresh_days, known=self.incremental)
        stats = self.crawler.stats
        now = datetime.now(timezone.utc)
        for section in self.sections:
            boundary = history.boundaries.get(section, Boundary(None, None))
            deep = deep_walk_reason(boundary, now, self.deep_walk_days) if self.incremental else None
            self.book.begin(section, boundary, deep=deep is not None)
            if deep:
                stats.set_value(stats_keys.WALKS_DEEP, [*(stats.get_value(stats_keys.WALKS_DEEP) or []), section])
                self.logger.info("section %r: deep walk, every listing page (%s)", section, deep)
        if not self.incremental:
            stats.set_value(stats_keys.REFRESH_REQUESTED, len(history.refresh))
            return history.refresh, []
        self.known_urls = history.known_urls | history.rejected_urls
        stats.set_value(stats_keys.INCREMENTAL_KNOWN_ARTICLES, len(history.known_urls))
        stats.set_value(stats_keys.INCREMENTAL_REJECTED_WAITING, len(history.rejected_urls) - len(history.due))
        stats.set_value(stats_keys.REFETCH_DUE, len(history.due))
        stats.set_value(stats_keys.REFRESH_REQUESTED, len(history.refresh))
        return history.refresh, history.due

    def _listing_request(self, section: str, number: int, page_count: int | None = None):
        return scrapy.Request(
            listing_page_url(section_url(self.base_url, section), number),
            callback=self.parse_listing,
            errback=self.listing_failed,
            cb_kwargs={"section": section, "number": number, "page_count": page_count},
            meta={"handle_httpstatus_list": _HANDLED_STATUSES, WALK: self.book.asking(section, number)},
            # Listing pages before articles: the walk reaches its end (and its boundary) early, and
            # a stop leaves fewer listed-but-unfetched articles behind.
            priority=10,
        )

    # --- listing pages ---

    def parse_listing(self, response, section, number=0, page_count=None):
        stats = self.crawler.stats
        walk = self.book.carried(section, response.request.meta.get(WALK) if response.request else None)
        if response.status != 200:
            stats.inc_value(stats_keys.SECTIONS_MISSING if number == 0 else "cascrawl/listing_pages_missing")
            if number == 0:  # which sections: the run's problem names them (cascrawl/run/verdict.py)
                _add_name(stats, stats_keys.SECTIONS_MISSING_NAMES, section)
            yield from self._unread(walk, response.url, number, page_count, f"HTTP {response.status}",
                                    not_there=True)
            return
        if not isinstance(response, TextResponse):
            stats.inc_value("cascrawl/listing_pages_not_html")
            yield from self._unread(walk, response.url, number, page_count, "not an HTML page")
            return
        html, _ = decode_html(response.body, response.headers.get("Content-Type"))
        if html.count("<") > self.max_page_tags:
            stats.inc_value("cascrawl/listing_pages_too_large")
            yield from self._unread(walk, response.url, number, page_count,
                                    f"over CASCRAWL_MAX_PAGE_TAGS ({self.max_page_tags}) tags, not parsed")
            return
        stats.inc_value(stats_keys.LISTING_PAGES)
        stats.inc_value(stats_keys.section_listing_pages(section))
        listing = parse_listing(html, response.url, self.base_url)
        stats.inc_value(stats_keys.section_entries(section), len(listing.entries))
        if listing.offsite_links:
            stats.inc_value("cascrawl/offsite_links_ignored", listing.offsite_links)
            self._log_offsite_hosts(listing.offsite_hosts, response.url)

        new_entries = [e for e in listing.entries if e.canonical_url not in self.known_urls]
        if len(new_entries) < len(listing.entries):
            stats.inc_value(stats_keys.INCREMENTAL_KNOWN_SKIPPED, len(listing.entries) - len(new_entries))
        for entry in new_entries:
            yield response.follow(
                entry.url,
                callback=self.fetch_article,
                errback=self.article_failed,
                cb_kwargs={"section": section, "listing_date": entry.date},
                meta={"handle_httpstatus_list": _HANDLED_STATUSES},
            )

        late_before, unread_before = walk.late_entries, len(walk.unread)
        following = listing_page_url(section_url(self.base_url, section), number + 1)
        step = walk.page_read(number, listing.entries, listing.page_count or page_count,
                              following in listing.page_links, self.known_urls.__contains__,
                              incremental=self.incremental, overlap_pages=self.overlap_pages,
                              max_pages=self.max_pages, url=response.url)
        if len(walk.unread) > unread_before:
            stats.inc_value("cascrawl/listing_pages_empty")
            self._note_unread(walk, "listing %s has no article entries (the pager announced %s pages)",
                              response.url, walk.pages_total)
        if walk.late_entries > late_before:
            stats.inc_value(stats_keys.INCREMENTAL_LATE_ENTRIES, walk.late_entries - late_before)
            self.logger.info("section %r: listing page %d lists %d article(s) below the last complete walk's "
                             "newest entry that the database does not hold (late or back-dated): walking on",
                             section, number + 1, walk.late_entries - late_before)
        yield from self._onwards(walk, step, number)

    def _unread(self, walk: SectionWalk, url: str, number: int, page_count: int | None, reason: str,
                not_there: bool = False):
        """A listing page that could not be read: the walk stays incomplete and goes on past it."""
        step = walk.page_unread(number, url, reason, page_count, not_there=not_there, max_pages=self.max_pages)
        if walk.missing:
            self.logger.warning("listing %s answered %s: section %r skipped (no earlier run read it)", url,
                                reason, walk.section)
        else:
            self._note_unread(walk, "listing %s not read (%s): the walk of section %r stays unfinished; the "
                              "next run reads it again", url, reason, walk.section)
        yield from self._onwards(walk, step, number)

    def _note_unread(self, walk: SectionWalk, message: str, *args) -> None:
        stats = self.crawler.stats
        self.logger.warning(message, *args)
        unread = list(stats.get_value(stats_keys.WALKS_UNREAD_PAGES) or [])
        unread.append(f"section {walk.section}: {walk.unread[-1]}")
        stats.set_value(stats_keys.WALKS_UNREAD_PAGES, unread)

    def _onwards(self, walk: SectionWalk, step: Step, number: int):
        if step is Step.NEXT:
            yield self._listing_request(walk.section, number + 1, walk.pages_total)
        elif step is Step.BOUNDARY:
            self.crawler.stats.inc_value(stats_keys.INCREMENTAL_STOPPED_EARLY)
            self.logger.info("section %r: listing page %d reaches the last complete walk; paging stops",
                             walk.section, number + 1)
        elif step is Step.MAX_PAGES:
            self.crawler.stats.inc_value(stats_keys.INCREMENTAL_CUT_BY_MAX_PAGES)

    def _log_offsite_hosts(self, hosts, page_url):
        """Links to other hosts are never followed; each host is logged once per run."""
        for host in hosts:
            if count_offsite(self.crawler.stats, host):
                self.logger.warning("listing %s links off the site to %s: not followed (further links to this "
                                    "host are ignored without a log line)", page_url, host)

    def listing_failed(self, failure):
        """A listing page that could not be fetched (after retries): unread; the walk goes on past it."""
        stats = self.crawler.stats
        request = failure.request
        stats.inc_value(stats_keys.LISTING_FETCH_FAILED)
        # every attempt was a request to the site: counted as listing requests in the summary
        stats.inc_value("cascrawl/listing_fetch_attempts_failed", request.meta.get("retry_times", 0) + 1)
        if stats.get_value(stats_keys.FIRST_FETCH_ERROR) is None:
            stats.set_value(stats_keys.FIRST_FETCH_ERROR, failure.getErrorMessage())
        section, number = request.cb_kwargs.get("section", ""), request.cb_kwargs.get("number", 0)
        if number == 0:
            _add_name(stats, stats_keys.SECTIONS_FAILED_NAMES, section)
        walk = self.book.carried(section, request.meta.get(WALK))
        yield from self._unread(walk, request.url, number, request.cb_kwargs.get("page_count"),
                                _failure_reason(failure))

    # --- article pages ---

    async def fetch_article(self, response, section, listing_date=None):
        """The item of an article page, parsed by the crawl's extraction workers (cascrawl.extraction: in
        a worker process while the reactor thread goes on downloading, or in this thread when there is
        none). Tests and tools take the same path (cascrawl.single_page.callback_items)."""
        stats = self.crawler.stats
        item = response_item(response, section, listing_date, stats)
        if item is not None and to_extract(item, response, stats):
            extracted = await extraction_of(self.crawler).extract(
                response.body, response.headers.get("Content-Type"), response.url, self.max_page_tags)
            fill_from_page(item, response.url, extracted, self.max_page_tags, stats, self.logger)
        if item is not None:
            yield item

    def article_failed(self, failure):
        """An article that could not be fetched (after retries): a recorded rejection (cascrawl.article_page)."""
        yield failed_fetch_item(failure, self.crawler.stats)


def _add_name(stats, key: str, name: str) -> None:
    """`name` into the sorted list of names under `key`, once."""
    stats.set_value(key, sorted({*(stats.get_value(key) or []), name}))


def _failure_reason(failure) -> str:
    """Why a listing page could not be fetched, for the operator: `HTTP 503 after retries`, `timeout …`."""
    response = getattr(failure.value, "response", None)
    if response is not None:
        return f"HTTP {response.status} after retries"
    return failure.getErrorMessage()[:200] or type(failure.value).__name__
