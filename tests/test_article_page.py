"""What an article page's answer makes (cascrawl/article_page.py), answer by answer, without a crawl: the
item its URL and headers give, a 304, a refresh, a binary body, each outcome of extraction, a failed fetch."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from cascrawl.article_page import failed_fetch_item, fill_from_page, new_item, response_item, to_extract
from cascrawl.extraction import Extracted, extract

URL = "https://www.cas.cn/syky/202401/t20240105_6000005.shtml"
COPY = "http://127.0.0.1:8000/syky/202401/t20240105_6000005.shtml"
PAGE = ("<html><head><meta name='ArticleTitle' content='量子计算新突破'></head><body><div class='trs_editor_view'>"
        "<p>正文第一段，足够长的一段文字。</p></div></body></html>").encode("utf-8")
LOG = logging.getLogger("test_article_page")


@pytest.fixture
def stats():
    return get_crawler().stats


def test_an_item_is_filed_under_the_canonical_url_of_the_copy_it_was_fetched_from():
    item = new_item(COPY, "?", date(2024, 1, 6), 200)
    assert (item.url, item.fetched_url, item.docid, item.section) == (URL, COPY, 6000005, "syky")
    assert item.url_date == date(2024, 1, 5) and item.listing_date == date(2024, 1, 6)
    other = new_item("http://127.0.0.1:8000/not-an-article.html", "yw", None, 404)
    assert (other.url, other.docid, other.section, other.http_status) == (other.fetched_url, 0, "yw", 404)


def test_an_unchanged_page_makes_no_item_and_a_refreshed_one_is_counted(stats):
    request = Request(COPY, meta={"cascrawl_refresh": True})
    assert response_item(HtmlResponse(COPY, status=304, request=request), "syky", None, stats) is None
    assert stats.get_value("cascrawl/refresh/not_modified") == 1
    headers = {"ETag": '"v2"', "Last-Modified": "Fri, 05 Jan 2024 10:00:00 GMT"}
    item = response_item(HtmlResponse(COPY, body=PAGE, headers=headers, request=request), "syky", None, stats)
    assert (item.etag, item.last_modified) == ('"v2"', "Fri, 05 Jan 2024 10:00:00 GMT")
    assert stats.get_value("cascrawl/refresh/refetched") == 1
    response_item(HtmlResponse(COPY, body=PAGE, request=Request(COPY)), "syky", None, stats)  # not a refresh
    assert stats.get_value("cascrawl/refresh/refetched") == 1


def test_only_a_page_answered_200_with_a_body_that_is_not_binary_is_extracted(stats):
    page = HtmlResponse(COPY, body=PAGE)
    assert to_extract(new_item(COPY, "", None, 200), page, stats)
    gone = HtmlResponse(COPY, status=404, body=PAGE)
    item = new_item(COPY, "", None, 404)
    assert not to_extract(item, gone, stats) and item.reject_reason is None
    image = Response(COPY, body=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, headers={"Content-Type": "image/png"})
    item = new_item(COPY, "", None, 200)
    assert not to_extract(item, image, stats)
    assert (item.reject_reason, item.reject_detail) == ("not_html", "binary body (image/png)")
    assert stats.get_value("cascrawl/extract/not_html") == 1


def test_an_extracted_page_fills_the_item_and_counts_its_coverage(stats):
    item = new_item(COPY, "", None, 200)
    fill_from_page(item, COPY, extract(PAGE, "text/html; charset=utf-8", COPY, 1000), 1000, stats, LOG)
    assert item.title == "量子计算新突破" and "正文第一段" in item.html and item.reject_reason is None
    assert item.template == item.provenance["parser"] and item.provenance["encoding"] == "utf-8"
    assert stats.get_value(f"cascrawl/extract/parser/{item.template}") == 1
    assert stats.get_value("cascrawl/coverage/pages") == 1
    assert stats.get_value("cascrawl/coverage/title") == stats.get_value("cascrawl/coverage/body") == 1
    assert stats.get_value("cascrawl/extract/in_worker") is None


def test_a_page_over_the_tag_limit_or_breaking_a_parser_is_rejected(stats, caplog):
    big = new_item(COPY, "", None, 200)
    fill_from_page(big, COPY, extract(PAGE, None, COPY, 3), 3, stats, LOG)
    assert big.reject_reason == "too_large"
    assert big.reject_detail.endswith("over CASCRAWL_MAX_PAGE_TAGS (3): not parsed")
    assert stats.get_value("cascrawl/extract/too_many_tags") == 1 and big.title is None
    broken = new_item(COPY, "", None, 200)
    answer = Extracted("utf-8", error="ValueError: bad page", trace="Traceback …", in_worker=True)
    with caplog.at_level(logging.ERROR):
        fill_from_page(broken, COPY, answer, 1000, stats, LOG)
    assert (broken.reject_reason, broken.reject_detail) == ("extraction_error", "ValueError: bad page")
    assert stats.get_value("cascrawl/extract/errors") == stats.get_value("cascrawl/extract/in_worker") == 1
    assert f"extraction failed on {COPY}" in caplog.text


def test_a_failed_fetch_is_a_rejection_filed_under_the_url_the_listing_gave(stats):
    request = Request(COPY, cb_kwargs={"section": "syky", "listing_date": date(2024, 1, 6)},
                      meta={"redirect_urls": ["http://127.0.0.1:8000/syky/202401/t20240105_6000006.shtml",
                                              "http://127.0.0.1:8000/syky/202401/t20240105_6000007.shtml"]})
    failure = Failure(TimeoutError("took longer than 180.0 seconds"))
    failure.request = request
    item = failed_fetch_item(failure, stats)
    assert item.docid == 6000006 and item.http_status == 0 and item.listing_date == date(2024, 1, 6)
    assert (item.reject_reason, item.reject_detail) == ("fetch_failed", "took longer than 180.0 seconds")
    cut = Failure(RuntimeError(""))
    cut.request = Request(COPY, meta={"cascrawl_too_large": 1024})
    item = failed_fetch_item(cut, stats)
    assert item.reject_reason == "too_large"
    assert item.reject_detail == "response cut off after 1024 bytes (DOWNLOAD_MAXSIZE)"
    assert stats.get_value("cascrawl/article_fetch_failed") == 2
