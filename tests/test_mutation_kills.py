"""Rules of the pure modules pinned exactly, written against mutants `make mutation` found alive
(docs/mutation.md): each test names the behaviour, not the mutant."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from itemadapter import ItemAdapter
from scrapy.utils.test import get_crawler

from cascrawl.items import ArticleItem
from cascrawl.parsers.listing import parse_listing
from cascrawl.text import content_hash
from pipelines.validate import MAX_TITLE, ValidatePipeline, rejection

URL = "https://www.cas.cn/syky/202506/t20250610_5072001.shtml"


# --- validation: every reason with its exact detail (what `cascrawl rejects` shows an operator) ---

def valid(**changes) -> ArticleItem:
    fields = dict(url=URL, fetched_url=URL, docid=5072001, section="syky", fetched_at=None, http_status=200, title="标题", published_date=date(2025, 6, 10),
                  text="正文。", content_hash=content_hash("标题", "正文。"), template="current",
                  date_text="2025-06-10", url_date=date(2025, 6, 10))
    fields.update(changes)
    return ArticleItem(**fields)


@pytest.mark.parametrize("changes, expected", [
    ({}, None),
    ({"reject_reason": "extraction_error", "reject_detail": "boom"}, ("extraction_error", "boom")),
    ({"reject_reason": "fetch_failed", "reject_detail": None}, ("fetch_failed", "")),
    ({"http_status": 404}, ("http_404", "article page answered HTTP 404")),
    ({"http_status": None}, None),
    ({"http_status": 0}, None),
    ({"url": URL.replace("https://www.cas.cn", "http://127.0.0.1:1")},
     ("not_an_article_url", "not a canonical www.cas.cn article URL: 'http://127.0.0.1:1/syky/202506/t20250610_5072001.shtml'")),
    ({"url": None}, ("not_an_article_url", "not a canonical www.cas.cn article URL: ''")),
    ({"title": ""}, ("missing_title", "no title in meta, page heading or <title>")),
    ({"title": "题" * MAX_TITLE}, None),
    ({"title": "题" * (MAX_TITLE + 1)}, ("implausible_title", f"title of {MAX_TITLE + 1} characters: {'题' * 60!r}…")),
    ({"title": "上半\n下半"}, ("implausible_title", "title of 5 characters: '上半\\n下半'…")),
    ({"published_date": None}, ("missing_date", "no date (page: '2025-06-10', url: 2025-06-10)")),
    ({"published_date": date(1900, 1, 1)}, ("implausible_date", "published_date 1900-01-01 is before 1949")),
    ({"text": ""}, ("missing_body", "no article body (template current)")),
    ({"text": "", "template": None}, ("missing_body", "no article body (template not recognised)")),
    ({"content_hash": None}, ("missing_content_hash", "no content hash: is the fields pipeline in ITEM_PIPELINES?")),
])
def test_each_rejection_reason_and_its_detail(changes, expected):
    assert rejection(ItemAdapter(valid(**changes))) == expected


def test_max_title_is_200():
    assert MAX_TITLE == 200


def test_the_validate_step_counts_marks_and_logs(caplog):
    crawler = get_crawler()
    pipeline = ValidatePipeline.from_crawler(crawler)
    kept = pipeline.process_item(valid())
    assert ItemAdapter(kept).get("reject_reason") is None
    with caplog.at_level(logging.WARNING, logger="pipelines.validate"):
        refused = ItemAdapter(pipeline.process_item(valid(title="", fetched_url="http://mirror/x.shtml")))
    assert (refused["reject_reason"], refused["reject_detail"]) == ("missing_title", "no title in meta, page heading or <title>")
    assert crawler.stats.get_value("cascrawl/validated") == 1
    assert crawler.stats.get_value("cascrawl/rejected/missing_title") == 1
    assert [r.getMessage() for r in caplog.records] == [
        "rejected http://mirror/x.shtml: missing_title (no title in meta, page heading or <title>)"]


# --- listing pages ---

BASE = "https://www.cas.cn"
LISTING = BASE + "/syky/"


def listing(items: str, tail: str = "") -> str:
    return f'<html><body><div id="content"><ul class="gl_list2">{items}</ul></div>{tail}</body></html>'


def test_entries_offsite_links_titles_and_dates_of_a_listing():
    html = listing(
        '<li><span>2025-06-14</span><a href="./202506/t20250614_5073157.shtml" title="完整 的\n标题">截断…</a></li>'
        '<li><a href="./202506/t20250613_5073156.shtml">链接文字 标题 2025-06-01</a><i>2025年06月13日</i></li>'
        '<li><span>2025-06-14</span><a href="./202506/t20250614_5073157.shtml" title="重复">重复</a></li>'
        '<li><a href="https://other.example.org/a.shtml">外站</a></li>'
        '<li><a href="//cdn.example.org/b.shtml">外站</a></li>'
        '<li><a href="http://news.example.org/c.shtml">外站</a></li>'
        '<li><a href="mailto:someone@cas.cn">信箱</a></li>'
        '<li><a>no href</a><a href="">empty</a></li>'
        '<li><span>无链接</span></li>'
        '<li><a href="./about.shtml">关于</a></li>'
    )
    page = parse_listing(html, LISTING, BASE)
    assert page.parser == "cas.listing.current@2019"
    assert [(e.url, e.canonical_url, e.title, e.date) for e in page.entries] == [
        (BASE + "/syky/202506/t20250614_5073157.shtml", BASE + "/syky/202506/t20250614_5073157.shtml",
         "完整 的 标题", date(2025, 6, 14)),
        (BASE + "/syky/202506/t20250613_5073156.shtml", BASE + "/syky/202506/t20250613_5073156.shtml",
         "链接文字 标题 2025-06-01", date(2025, 6, 1)),
    ]
    assert page.offsite_links == 3
    assert (page.page_count, page.page_links) == (None, [])


def test_a_listing_on_a_copy_fetches_from_the_copy_and_stores_canonical_urls():
    copy = "http://127.0.0.1:8000"
    html = listing('<li><span>2016/04/20</span><a href="/syky/201604/t20160420_4567890.shtml" title="旧">旧</a></li>')
    [entry] = parse_listing(html, copy + "/syky/", copy).entries
    assert (entry.url, entry.canonical_url, entry.date) == (
        copy + "/syky/201604/t20160420_4567890.shtml", BASE + "/syky/201604/t20160420_4567890.shtml", date(2016, 4, 20))


@pytest.mark.parametrize("script, count", [
    ("var countPage = 12;", 12), ("createPageHTML(7, 0, \"index\", \"shtml\");", 7),
    ("createPageHTML( 3,0,'index','shtml')", 3), ("var countPage=1", 1), ("var other = 5;", None),
])
def test_the_page_count_comes_from_the_pager_script(script, count):
    page = parse_listing(listing("<li>无</li>", f"<script>{script}</script>"), LISTING, BASE)
    assert page.page_count == count


def test_pager_links_are_collected_once_without_their_query():
    tail = ('<div class="pager"><a href="index_1.shtml">2</a><a href="index_1.shtml?x=1">2</a>'
            '<a href="./index_2.shtml">3</a><a href="index.shtml">1</a><a href="other_1.shtml">x</a>'
            '<a href="https://other.example.org/index_3.shtml">off</a><a>none</a></div>')
    page = parse_listing(listing("<li>无</li>", tail), LISTING, BASE)
    assert page.page_links == [LISTING + "index_1.shtml", LISTING + "index_2.shtml", LISTING + "index.shtml"]
