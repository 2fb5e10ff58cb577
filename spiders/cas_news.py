"""cas_news: walk the news sections of www.cas.cn (or a copy of it) and hand article pages to extraction."""

from __future__ import annotations

from datetime import datetime, timezone

import scrapy
from scrapy.http import TextResponse

from cascrawl.encoding import decode_html
from cascrawl.items import ArticleItem
from cascrawl.parsers import GENERIC, parse_article, parse_listing
from cascrawl.sections import parse_sections
from cascrawl.urls import listing_page_number, listing_page_url, normalize_base_url, parse_article_url, section_url

# Handled by the callbacks instead of being filtered out by HttpErrorMiddleware.
_HANDLED_STATUSES = [404, 410]


class CasNewsSpider(scrapy.Spider):
    """Arguments (`-a name=value`): sections=yw,syky  base_url=https://mirror  max_pages=N (listing pages per section)."""

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
        return spider

    async def start(self):
        for section in self.sections:
            yield scrapy.Request(
                section_url(self.base_url, section),
                callback=self.parse_listing,
                errback=self.listing_failed,
                cb_kwargs={"section": section},
                meta={"handle_httpstatus_list": _HANDLED_STATUSES},
            )

    def parse_listing(self, response, section):
        stats = self.crawler.stats
        if response.status != 200:
            stats.inc_value("cascrawl/sections_missing" if listing_page_number(response.url) == 0 else "cascrawl/listing_pages_missing")
            self.logger.warning("listing %s answered HTTP %d: section %r skipped from here", response.url, response.status, section)
            return
        if not isinstance(response, TextResponse):
            stats.inc_value("cascrawl/listing_pages_not_html")
            self.logger.warning("listing %s is not an HTML page", response.url)
            return
        stats.inc_value("cascrawl/listing_pages")
        html, _ = decode_html(response.body, response.headers.get("Content-Type"))
        listing = parse_listing(html, response.url, self.base_url)
        if listing.offsite_links:
            stats.inc_value("cascrawl/offsite_links_ignored", listing.offsite_links)
        if not listing.entries:
            stats.inc_value("cascrawl/listing_pages_empty")
            self.logger.warning("listing %s has no article entries", response.url)
        for entry in listing.entries:
            yield response.follow(
                entry.url,
                callback=self.parse_article,
                errback=self.article_failed,
                cb_kwargs={"section": section, "listing_date": entry.date},
                meta={"handle_httpstatus_list": _HANDLED_STATUSES},
            )
        for page_url in self._next_listing_pages(response.url, listing, section):
            yield scrapy.Request(page_url, callback=self.parse_listing, errback=self.listing_failed,
                                 cb_kwargs={"section": section}, meta={"handle_httpstatus_list": _HANDLED_STATUSES})

    def _next_listing_pages(self, url, listing, section):
        """Pages announced by the pager script (from the first page) plus pager links; the dupefilter drops repeats."""
        first_page = section_url(self.base_url, section)
        numbers = set()
        if listing_page_number(url) == 0 and listing.page_count:
            numbers.update(range(1, listing.page_count))
        for link in listing.page_links:
            number = listing_page_number(link)
            if number:
                numbers.add(number)
        for number in sorted(numbers):
            if self.max_pages and number >= self.max_pages:
                break
            yield listing_page_url(first_page, number)

    def parse_article(self, response, section, listing_date=None):
        item = self._new_item(response.url, section, listing_date, response.status)
        if response.status == 200 and isinstance(response, TextResponse):
            self._fill_from_page(item, response)
        yield item

    def article_failed(self, failure):
        """An article that could not be fetched (after retries) becomes a recorded rejection."""
        request = failure.request
        self.crawler.stats.inc_value("cascrawl/article_fetch_failed")
        item = self._new_item(request.url, request.cb_kwargs.get("section", ""), request.cb_kwargs.get("listing_date"), 0)
        item.reject_reason, item.reject_detail = "fetch_failed", failure.getErrorMessage()[:500]
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

    def _fill_from_page(self, item: ArticleItem, response) -> None:
        stats = self.crawler.stats
        try:
            html, encoding = decode_html(response.body, response.headers.get("Content-Type"))
            page = parse_article(html, response.url)
        except Exception as error:  # a page that breaks a parser is a recorded rejection, not a crashed callback
            self.logger.exception("extraction failed on %s", response.url)
            item.reject_reason, item.reject_detail = "extraction_error", f"{type(error).__name__}: {error}"[:500]
            stats.inc_value("cascrawl/extract/errors")
            return
        stats.inc_value(f"cascrawl/extract/parser/{page.parser}")
        if page.parser == GENERIC.id:
            stats.inc_value("cascrawl/extract/generic_fallback")
            self.logger.warning("no CAS layout matched %s: body from the generic extractor", response.url)
        item.template, item.title, item.source = page.parser, page.title, page.source
        item.author, item.editor = page.author, page.editor
        item.date_text, item.date_origin = page.date_text, page.date_origin
        item.html, item.attachments, item.images = page.body_html, page.attachments, page.images
        item.provenance = {**page.provenance, "encoding": encoding}

    def listing_failed(self, failure):
        stats = self.crawler.stats
        stats.inc_value("cascrawl/listing_fetch_failed")
        if stats.get_value("cascrawl/first_fetch_error") is None:
            stats.set_value("cascrawl/first_fetch_error", failure.getErrorMessage())
        self.logger.error("could not fetch %s: %s", failure.request.url, failure.getErrorMessage())
