"""cas_news: walk the news sections of www.cas.cn (or a copy of it) and hand article pages to extraction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import scrapy
from scrapy.http import TextResponse

from cascrawl.db.frontier import Boundary, WalkProgress
from cascrawl.distributed import WALK
from cascrawl.encoding import decode_html, looks_binary
from cascrawl.extraction import Extracted, ExtractionWorkers, extract
from cascrawl.hosts import count_offsite, fetch_failure
from cascrawl.items import ArticleItem
from cascrawl.parsers import GENERIC, parse_listing
from cascrawl.sections import parse_sections
from cascrawl.urls import listing_page_url, normalize_base_url, parse_article_url, section_url, site_link

# Handled by the callbacks instead of being filtered out by HttpErrorMiddleware.
_HANDLED_STATUSES = [404, 410]
_REFRESH_STATUSES = [304, 404, 410]


@dataclass
class SectionWalk:
    """One section's walk down its listing in this run (newest first)."""

    section: str
    boundary: Boundary  # the first entry of the last complete walk (url None: never completed)
    pages: int = 0  # listing pages fetched
    pages_total: int | None = None
    top_url: str | None = None
    top_date: date | None = None
    pages_at_boundary: int = 0  # pages walked since the boundary was met (0: not met yet)
    reached_end: bool = False
    failed: bool = False  # a listing page could not be fetched or read
    next_requested: bool = False  # the next listing page is asked for and not read yet

    @property
    def complete(self) -> bool:
        return (self.reached_end or self.pages_at_boundary > 0) and not self.failed and not self.next_requested

    def shared_state(self) -> dict:
        """The walk as plain data: carried by its next listing request, so that whichever worker of a
        distributed crawl reads that page goes on with it (cascrawl/distributed.py)."""
        return {"section": self.section, "boundary_url": self.boundary.url,
                "boundary_date": self.boundary.date.isoformat() if self.boundary.date else None,
                "pages": self.pages, "pages_total": self.pages_total, "top_url": self.top_url,
                "top_date": self.top_date.isoformat() if self.top_date else None,
                "pages_at_boundary": self.pages_at_boundary, "reached_end": self.reached_end,
                "failed": self.failed, "next_requested": self.next_requested}

    @classmethod
    def from_state(cls, state: dict) -> SectionWalk:
        day = lambda value: date.fromisoformat(value) if value else None  # noqa: E731
        return cls(state["section"], Boundary(state["boundary_url"], day(state["boundary_date"])), state["pages"],
                   state["pages_total"], state["top_url"], day(state["top_date"]), state["pages_at_boundary"],
                   state["reached_end"], state["failed"], state["next_requested"])

    def progress(self) -> WalkProgress:
        return WalkProgress(self.section, self.pages, self.pages_total, self.complete, self.top_url, self.top_date)

    def meets_boundary(self, entries) -> bool:
        """The page holds the boundary entry, or (should that article have gone) only older entries."""
        if self.boundary.url is None:
            return False
        if any(entry.canonical_url == self.boundary.url for entry in entries):
            return True
        cutoff = self.boundary.date
        return bool(cutoff and entries and all(entry.date and entry.date < cutoff for entry in entries))


class CasNewsSpider(scrapy.Spider):
    """Arguments (`-a name=value`): sections=yw,syky  base_url=https://mirror  max_pages=N (listing pages per section).

    Incremental by default (CASCRAWL_INCREMENTAL): an article already stored (or rejected and not yet
    due again) is not fetched, and paging a section stops at the listing page that holds the first
    entry of the last *complete* walk (its boundary, in `section_walks`), plus CASCRAWL_OVERLAP_PAGES - 1
    pages. A walk cut short never moves the boundary, so the next run walks on until it meets it.
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
        spider.incremental = settings.getbool("CASCRAWL_INCREMENTAL", True)
        spider.overlap_pages = max(1, settings.getint("CASCRAWL_OVERLAP_PAGES", 1))
        spider.refresh_days = max(0, settings.getint("CASCRAWL_REFRESH_DAYS", 0))
        spider.database_url = settings.get("CASCRAWL_DATABASE_URL")
        spider.max_page_tags = settings.getint("CASCRAWL_MAX_PAGE_TAGS", 100_000) or 10**12  # 0 = no limit
        # 0: twice what the downloader takes in at once (a burst of responses, two jobs each, fits)
        queue = settings.getint("CASCRAWL_EXTRACT_QUEUE", 0) or 2 * settings.getint("CONCURRENT_REQUESTS", 16)
        spider.extraction = ExtractionWorkers(settings.getint("CASCRAWL_EXTRACT_PROCESSES", 1), queue)
        spider.known_urls = set()
        spider.walks = {}
        return spider

    # --- requests ---

    async def start(self):
        self.extraction.start()  # the workers import the parsers while the first listing pages download
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
        for section in self.sections:
            self.walks[section] = SectionWalk(section, history.boundaries.get(section, Boundary(None, None)))
        stats = self.crawler.stats
        if not self.incremental:
            stats.set_value("cascrawl/refresh/requested", len(history.refresh))
            return history.refresh, []
        self.known_urls = history.known_urls | history.rejected_urls
        stats.set_value("cascrawl/incremental/known_articles", len(history.known_urls))
        stats.set_value("cascrawl/incremental/rejected_waiting", len(history.rejected_urls) - len(history.due))
        stats.set_value("cascrawl/refetch/due", len(history.due))
        stats.set_value("cascrawl/refresh/requested", len(history.refresh))
        return history.refresh, history.due

    def closed(self, reason):
        self.extraction.close()

    def walk_progress(self) -> list[WalkProgress]:
        """Each section's walk so far, for the persist pipeline to record."""
        return [walk.progress() for walk in self.walks.values() if walk.pages]

    def sections_walked(self) -> int:
        """Sections whose listing walk is over in this run (end, boundary, --max-pages or failure): for the
        live progress display."""
        return sum(1 for walk in self.walks.values() if walk.failed or walk.reached_end
                   or (self.incremental and walk.pages_at_boundary >= self.overlap_pages)
                   or (self.max_pages and walk.pages >= self.max_pages))

    @staticmethod
    def walk_progress_of(states: list[dict]) -> list[WalkProgress]:
        """Walks shared by the workers of a distributed crawl (their furthest states), as progress."""
        return [SectionWalk.from_state(state).progress() for state in states if state["pages"]]

    def _listing_request(self, section: str, number: int, page_count: int | None = None):
        walk = self._walk(section)
        walk.next_requested = number > 0
        return scrapy.Request(
            listing_page_url(section_url(self.base_url, section), number),
            callback=self.parse_listing,
            errback=self.listing_failed,
            cb_kwargs={"section": section, "number": number, "page_count": page_count},
            meta={"handle_httpstatus_list": _HANDLED_STATUSES, WALK: walk.shared_state()},
            # Listing pages before articles: the walk reaches its end (and its boundary) early, and
            # a stop leaves fewer listed-but-unfetched articles behind.
            priority=10,
        )

    def _walk(self, section: str) -> SectionWalk:
        if section not in self.walks:
            self.walks[section] = SectionWalk(section, Boundary(None, None))
        return self.walks[section]

    # --- listing pages ---

    def _walk_of(self, request, section: str) -> SectionWalk:
        """The section's walk as this listing page's request carries it, unless this process has it
        already (it read the page before): a distributed crawl's workers hand walks to each other."""
        walk = self._walk(section)
        state = request.meta.get(WALK) if request is not None else None
        if state and state["pages"] > walk.pages:
            walk = self.walks[section] = SectionWalk.from_state(state)
        walk.next_requested = False
        return walk

    def parse_listing(self, response, section, number=0, page_count=None):
        stats = self.crawler.stats
        walk = self._walk_of(response.request, section)
        if response.status != 200:
            stats.inc_value("cascrawl/sections_missing" if number == 0 else "cascrawl/listing_pages_missing")
            self.logger.warning("listing %s answered HTTP %d: section %r skipped from here", response.url, response.status, section)
            # A page the pager announced but the site no longer has ends the listing; a missing
            # section proves nothing.
            walk.reached_end = number > 0
            walk.failed = number == 0
            return
        if not isinstance(response, TextResponse):
            stats.inc_value("cascrawl/listing_pages_not_html")
            self.logger.warning("listing %s is not an HTML page", response.url)
            walk.failed = True
            return
        stats.inc_value("cascrawl/listing_pages")
        stats.inc_value(f"cascrawl/section/{section}/listing_pages")
        html, _ = decode_html(response.body, response.headers.get("Content-Type"))
        if html.count("<") > self.max_page_tags:
            stats.inc_value("cascrawl/listing_pages_too_large")
            self.logger.warning("listing %s has over CASCRAWL_MAX_PAGE_TAGS (%d) tags: not parsed", response.url,
                                self.max_page_tags)
            walk.failed = True
            return
        listing = parse_listing(html, response.url, self.base_url)
        stats.inc_value(f"cascrawl/section/{section}/entries", len(listing.entries))
        if listing.offsite_links:
            stats.inc_value("cascrawl/offsite_links_ignored", listing.offsite_links)
            self._log_offsite_hosts(listing.offsite_hosts, response.url)
        if not listing.entries:
            stats.inc_value("cascrawl/listing_pages_empty")
            self.logger.warning("listing %s has no article entries", response.url)
            if number > 0 or (listing.page_count or 0) > 1:
                walk.failed = True  # a gap in the middle of a listing proves nothing: walk it again next time
        walk.pages = max(walk.pages, number + 1)
        if number == 0:
            walk.pages_total = listing.page_count
            if listing.entries:
                walk.top_url, walk.top_date = listing.entries[0].canonical_url, listing.entries[0].date

        new_entries = [e for e in listing.entries if e.canonical_url not in self.known_urls]
        if len(new_entries) < len(listing.entries):
            stats.inc_value("cascrawl/incremental/known_entries_skipped", len(listing.entries) - len(new_entries))
        for entry in new_entries:
            yield response.follow(
                entry.url,
                callback=self.fetch_article,
                errback=self.article_failed,
                cb_kwargs={"section": section, "listing_date": entry.date},
                meta={"handle_httpstatus_list": _HANDLED_STATUSES},
            )

        # Listings are newest first: below the last complete walk's first entry, everything is held.
        if walk.pages_at_boundary or walk.meets_boundary(listing.entries):
            walk.pages_at_boundary += 1
        if self.incremental and walk.pages_at_boundary >= self.overlap_pages:
            stats.inc_value("cascrawl/incremental/sections_stopped_early")
            self.logger.info("section %r: listing page %d reaches the last complete walk; paging stops", section, number + 1)
            return
        following = number + 1
        page_count = page_count or listing.page_count  # the TRS pager script's count, from the first page
        announced = page_count is not None and following < page_count
        linked = listing_page_url(section_url(self.base_url, section), following) in listing.page_links
        if not (announced or linked):
            walk.reached_end = True
            return
        if self.max_pages and following >= self.max_pages:
            stats.inc_value("cascrawl/incremental/walks_cut_by_max_pages")
            return  # the walk stays incomplete: the boundary does not move
        yield self._listing_request(section, following, page_count)

    def _log_offsite_hosts(self, hosts, page_url):
        """Links to other hosts are never followed; each host is logged once per run."""
        for host in hosts:
            if count_offsite(self.crawler.stats, host):
                self.logger.warning("listing %s links off the site to %s: not followed (further links to this "
                                    "host are ignored without a log line)", page_url, host)

    def listing_failed(self, failure):
        stats = self.crawler.stats
        stats.inc_value("cascrawl/listing_fetch_failed")
        self._walk(failure.request.cb_kwargs.get("section", "")).failed = True
        if stats.get_value("cascrawl/first_fetch_error") is None:
            stats.set_value("cascrawl/first_fetch_error", failure.getErrorMessage())
        self.logger.error("could not fetch %s: %s", failure.request.url, failure.getErrorMessage())

    # --- article pages ---

    def parse_article(self, response, section, listing_date=None):
        """The item of an article page, parsed in this thread (tests and tools call it directly); the
        crawl's requests go to fetch_article, which parses in the extraction workers."""
        item = self._article_item(response, section, listing_date)
        if item is not None and self._to_extract(item, response):
            self._fill_from_page(item, response, extract(
                response.body, response.headers.get("Content-Type"), response.url, self.max_page_tags))
        if item is not None:
            yield item

    async def fetch_article(self, response, section, listing_date=None):
        """parse_article with the parsing in a worker process (cascrawl.extraction): the reactor thread
        goes on downloading meanwhile."""
        item = self._article_item(response, section, listing_date)
        if item is not None and self._to_extract(item, response):
            self._fill_from_page(item, response, await self.extraction.extract(
                response.body, response.headers.get("Content-Type"), response.url, self.max_page_tags))
        if item is not None:
            yield item

    def _article_item(self, response, section, listing_date) -> ArticleItem | None:
        if response.status == 304:  # revalidated and unchanged: nothing to extract
            self.crawler.stats.inc_value("cascrawl/refresh/not_modified")
            return None
        if response.request is not None and response.request.meta.get("cascrawl_refresh"):
            self.crawler.stats.inc_value("cascrawl/refresh/refetched")
        item = self._new_item(response.url, section, listing_date, response.status)
        item.etag, item.last_modified = _header(response, "ETag"), _header(response, "Last-Modified")
        return item

    def _to_extract(self, item: ArticleItem, response) -> bool:
        if response.status != 200:
            return False
        if looks_binary(response.body):  # an image, an archive, random bytes: never a page
            content_type = _header(response, "Content-Type")
            item.reject_reason, item.reject_detail = "not_html", f"binary body ({content_type or 'no Content-Type'})"
            self.crawler.stats.inc_value("cascrawl/extract/not_html")
            return False
        return True

    def article_failed(self, failure):
        """An article that could not be fetched (after retries) becomes a recorded rejection, filed under
        the URL the listing gave (before any redirect): fetch_failed, too_large (over DOWNLOAD_MAXSIZE),
        offsite_redirect / offsite_refresh / offsite_link (refused by the host policy)."""
        request = failure.request
        self.crawler.stats.inc_value("cascrawl/article_fetch_failed")
        origin = (request.meta.get("redirect_urls") or [request.url])[0]
        item = self._new_item(origin, request.cb_kwargs.get("section", ""), request.cb_kwargs.get("listing_date"), 0)
        message = failure.getErrorMessage()
        reason = fetch_failure(failure.value, message, request.meta)
        if reason == "too_large" and not message:
            message = f"response cut off after {request.meta.get('cascrawl_too_large')} bytes (DOWNLOAD_MAXSIZE)"
        item.reject_reason, item.reject_detail = reason, message[:500]
        yield item

    @staticmethod
    def _new_item(url, section, listing_date, status) -> ArticleItem:
        ref = parse_article_url(url)
        return ArticleItem(
            url=ref.canonical_url if ref else url,
            fetched_url=url,
            docid=ref.docid if ref else 0,
            section=ref.section if ref else section,
            fetched_at=datetime.now(timezone.utc),
            http_status=status,
            listing_date=listing_date,
            url_date=ref.url_date if ref else None,
        )

    def _fill_from_page(self, item: ArticleItem, response, extracted: Extracted) -> None:
        stats = self.crawler.stats
        encoding, page = extracted.encoding, extracted.page
        if extracted.in_worker:
            stats.inc_value("cascrawl/extract/in_worker")
        if extracted.tags:
            item.reject_reason = "too_large"
            item.reject_detail = f"{extracted.tags} tags, over CASCRAWL_MAX_PAGE_TAGS ({self.max_page_tags}): not parsed"
            stats.inc_value("cascrawl/extract/too_many_tags")
            return
        if page is None:
            self.logger.error("extraction failed on %s:\n%s", response.url, extracted.trace)
            item.reject_reason, item.reject_detail = "extraction_error", (extracted.error or "")[:500]
            stats.inc_value("cascrawl/extract/errors")
            return
        stats.inc_value(f"cascrawl/extract/parser/{page.parser}")
        # Field coverage over every extracted article page, rejected or not: the layout-change alarm's input.
        stats.inc_value("cascrawl/coverage/pages")
        for name, value in (("title", page.title), ("date", page.date_text), ("body", page.body_html),
                            ("source", page.source)):
            if value:
                stats.inc_value(f"cascrawl/coverage/{name}")
        if page.parser == GENERIC.id:
            stats.inc_value("cascrawl/extract/generic_fallback")
            self.logger.warning("no CAS layout matched %s: body from the generic extractor", response.url)
        item.template, item.title, item.source = page.parser, page.title, page.source
        item.author, item.editor = page.author, page.editor
        item.date_text, item.date_origin = page.date_text, page.date_origin
        item.html, item.attachments, item.images = page.body_html, page.attachments, page.images
        item.videos = page.videos
        item.provenance = {**page.provenance, "encoding": encoding}


def _header(response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
