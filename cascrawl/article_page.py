"""An article page's answer made into its ArticleItem: the item its URL and headers give, the binary-body
check, and the fields (or the rejection) from what extraction made of the page, each outcome counted in
the crawl's stats and logged. The spider's article callbacks call these (spiders/cas_news.py); no Scrapy
import here, only what a response, a failure and a stats collector offer."""

from __future__ import annotations

from datetime import datetime, timezone

from cascrawl import stats_keys
from cascrawl.archive import RECORD_ID_META
from cascrawl.encoding import looks_binary
from cascrawl.extraction import Extracted
from cascrawl.hosts import fetch_failure
from cascrawl.items import ArticleItem
from cascrawl.parsers import GENERIC
from cascrawl.urls import parse_article_url


def new_item(url: str, section: str, listing_date, status: int) -> ArticleItem:
    """The item of the page at `url` (filed under its canonical URL when it is a CAS article URL)."""
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


def response_item(response, section: str, listing_date, stats) -> ArticleItem | None:
    """The item of an article page's answer, before extraction; None for a revalidated page unchanged (304)."""
    if response.status == 304:  # revalidated and unchanged: nothing to extract
        stats.inc_value("cascrawl/refresh/not_modified")
        return None
    if response.request is not None and response.request.meta.get("cascrawl_refresh"):
        stats.inc_value("cascrawl/refresh/refetched")
    item = new_item(response.url, section, listing_date, response.status)
    item.etag, item.last_modified = header(response, "ETag"), header(response, "Last-Modified")
    if response.request is not None:  # its WARC record, when the archive is on
        item.warc_record_id = response.request.meta.get(RECORD_ID_META)
    return item


def to_extract(item: ArticleItem, response, stats) -> bool:
    """Whether the answer is a page to extract: a 200 whose body is not binary (that one is rejected here)."""
    if response.status != 200:
        return False
    if looks_binary(response.body):  # an image, an archive, random bytes: never a page
        content_type = header(response, "Content-Type")
        item.reject_reason, item.reject_detail = "not_html", f"binary body ({content_type or 'no Content-Type'})"
        stats.inc_value("cascrawl/extract/not_html")
        return False
    return True


def fill_from_page(item: ArticleItem, url: str, extracted: Extracted, max_tags: int, stats, logger) -> None:
    """The item's fields from what extraction made of the page at `url`, or why it is rejected."""
    encoding, page = extracted.encoding, extracted.page
    if extracted.in_worker:
        stats.inc_value("cascrawl/extract/in_worker")
    if extracted.tags:
        item.reject_reason = "too_large"
        item.reject_detail = f"{extracted.tags} tags, over CASCRAWL_MAX_PAGE_TAGS ({max_tags}): not parsed"
        stats.inc_value("cascrawl/extract/too_many_tags")
        return
    if page is None:
        logger.error("extraction failed on %s:\n%s", url, extracted.trace)
        item.reject_reason, item.reject_detail = "extraction_error", (extracted.error or "")[:500]
        stats.inc_value("cascrawl/extract/errors")
        return
    stats.inc_value(f"cascrawl/extract/parser/{page.parser}")
    # Field coverage over every extracted article page, rejected or not: the layout-change alarm's input.
    stats.inc_value(stats_keys.COVERAGE_PAGES)
    for name, value in (("title", page.title), ("date", page.date_text), ("body", page.body_html),
                        ("source", page.source)):
        if value:
            stats.inc_value(stats_keys.coverage(name))
    if page.parser == GENERIC.id:
        stats.inc_value(stats_keys.GENERIC_FALLBACK)
        logger.warning("no CAS layout matched %s: body from the generic extractor", url)
    item.template, item.title, item.source = page.parser, page.title, page.source
    item.author, item.editor = page.author, page.editor
    item.date_text, item.date_origin = page.date_text, page.date_origin
    item.html, item.attachments, item.images = page.body_html, page.attachments, page.images
    item.videos = page.videos
    item.provenance = {**page.provenance, "encoding": encoding}


def failed_fetch_item(failure, stats) -> ArticleItem:
    """The rejection of an article that could not be fetched (after retries), filed under the URL the
    listing gave (before any redirect): fetch_failed, too_large (over DOWNLOAD_MAXSIZE), offsite_redirect /
    offsite_refresh / offsite_link (refused by the host policy)."""
    request = failure.request
    stats.inc_value("cascrawl/article_fetch_failed")
    origin = (request.meta.get("redirect_urls") or [request.url])[0]
    item = new_item(origin, request.cb_kwargs.get("section", ""), request.cb_kwargs.get("listing_date"), 0)
    message = failure.getErrorMessage()
    reason = fetch_failure(failure.value, message, request.meta)
    if reason == "too_large" and not message:
        message = f"response cut off after {request.meta.get('cascrawl_too_large')} bytes (DOWNLOAD_MAXSIZE)"
    item.reject_reason, item.reject_detail = reason, message[:500]
    return item


def header(response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
