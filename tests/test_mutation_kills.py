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
from cascrawl.pipelines.validate import MAX_TITLE, ValidatePipeline, rejection

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


def test_a_title_of_200_characters_is_kept_and_one_of_201_is_refused():
    # The limit the README states ("`implausible_title` (over 200 characters)"), written out rather than read
    # from MAX_TITLE: the parametrized cases above follow MAX_TITLE, so only this one fails when it moves.
    pipeline = ValidatePipeline.from_crawler(get_crawler())
    assert ItemAdapter(pipeline.process_item(valid(title="题" * 200))).get("reject_reason") is None
    refused = ItemAdapter(pipeline.process_item(valid(title="题" * 201)))
    assert refused["reject_reason"] == "implausible_title"
    assert refused["reject_detail"].startswith("title of 201 characters: ")


def test_the_validate_step_counts_marks_and_logs(caplog):
    crawler = get_crawler()
    pipeline = ValidatePipeline.from_crawler(crawler)
    kept = pipeline.process_item(valid())
    assert ItemAdapter(kept).get("reject_reason") is None
    with caplog.at_level(logging.WARNING, logger="cascrawl.pipelines.validate"):
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


# --- the dates step: which candidate wins, what is counted, what provenance says ---

def dated(**fields) -> ArticleItem:
    base = dict(url=URL, fetched_url=URL, docid=5072001, section="syky", fetched_at=None, title="标题",
                date_text="2025-06-09 21:40", date_origin="meta", url_date=date(2025, 6, 10))
    return ArticleItem(**{**base, **fields})


@pytest.mark.parametrize("fields, stats, provenance, published, reject", [
    (dict(provenance={"title": "meta:ArticleTitle"}), {"from_meta": 1},
     {"title": "meta:ArticleTitle", "published": "meta"}, date(2025, 6, 9), None),
    (dict(date_origin="dom", date_text="2025-06-01"), {"from_page": 1, "page_differs_from_url": 1},
     {"published": "page"}, date(2025, 6, 1), None),
    (dict(date_origin="dom", date_text="2025-06-09"), {"from_page": 1}, {"published": "page"}, date(2025, 6, 9), None),
    (dict(date_text=None, listing_date=date(2025, 6, 1)), {"from_listing": 1}, {"published": "listing"},
     date(2025, 6, 1), None),
    (dict(date_text="不是日期", listing_date=date(2025, 6, 9)), {"unparseable/meta": 1, "from_listing": 1},
     {"published": "listing"}, date(2025, 6, 9), None),
    (dict(date_origin="dom", date_text="不是日期", listing_date=None), {"unparseable/page": 1, "from_url": 1},
     {"published": "url"}, date(2025, 6, 10), None),
    (dict(date_origin="dom", date_text="1900-01-01"), {"implausible/page": 1, "from_url": 1},
     {"published": "url", "published_passed_over": "page '1900-01-01' is before 1949"}, date(2025, 6, 10), None),
    (dict(date_text=None, url_date=None), {}, {}, None, None),
    (dict(date_text="1900-01-01", listing_date=date(1800, 1, 1), url_date=None),
     {"implausible/meta": 1, "implausible/listing": 1}, {}, None,
     ("implausible_date", "no plausible date: meta '1900-01-01' is before 1949; listing '1800-01-01' is before 1949")),
])
def test_the_dates_step_counts_and_records_where_the_date_came_from(fields, stats, provenance, published, reject):
    from cascrawl.pipelines.dates import PublishedDatePipeline

    crawler = get_crawler()
    item = ItemAdapter(PublishedDatePipeline.from_crawler(crawler).process_item(dated(**fields)))
    counted = {key.removeprefix("cascrawl/dates/"): value for key, value in crawler.stats.get_stats().items()
               if key.startswith("cascrawl/dates/")}
    assert counted == stats
    assert (item.get("provenance") or {}) == provenance
    assert item.get("published_date") == published
    assert ((item["reject_reason"], item["reject_detail"]) if item.get("reject_reason") else None) == reject


def test_a_passed_over_date_is_logged_with_the_url_and_the_winner(caplog):
    from cascrawl.pipelines.dates import PublishedDatePipeline

    with caplog.at_level(logging.WARNING, logger="cascrawl.pipelines.dates"):
        PublishedDatePipeline.from_crawler(get_crawler()).process_item(dated(date_origin="dom", date_text="1900-01-01"))
    assert [r.getMessage() for r in caplog.records] == [
        f"{URL}: date from the url, passed over: page '1900-01-01' is before 1949"]


def test_the_page_time_of_day_is_kept_in_beijing_time():
    from cascrawl.pipelines.dates import PublishedDatePipeline

    item = ItemAdapter(PublishedDatePipeline.from_crawler(get_crawler()).process_item(dated()))
    assert item["published_at"].isoformat() == "2025-06-09T21:40:00+08:00"


# --- images and their captions, attachments (cascrawl/parsers/article.py) ---

W1 = "https://www.cas.cn/syky/202506/W1.jpg"


def body_of(html: str):
    from cascrawl.parsers.base import Page

    page = Page(f'<html><head><title>附件</title></head><body><div id="b">{html}</div></body></html>', URL)
    return page.root.xpath('//div[@id="b"]')[0], page


@pytest.mark.parametrize("html, expected", [
    ('<p><img src="./W1.jpg"></p><p>图为现场。</p>', [(W1, "图为现场。")]),  # after the image
    ('<p>图1 示意图</p><p><img src="./W1.jpg"></p>', [(W1, "图1 示意图")]),  # before it
    ('<p>这是一段正文。</p><p><img src="./W1.jpg"></p>', [(W1, None)]),  # prose running into the image
    ('<p>这是一段正文！</p><p><img src="./W1.jpg"></p>', [(W1, None)]),
    ('<p>张三摄。</p><p><img src="./W1.jpg"></p>', [(W1, "张三摄。")]),  # a photo credit may end with 。
    ('<p>如下图。</p><p><img src="./W1.jpg"></p>', [(W1, "如下图。")]),
    ('<p><img src="./W1.jpg"></p><p><strong>一、小标题</strong></p>', [(W1, None)]),  # a subheading
    ('<p><img src="./W1.jpg"></p><p><b>小标题</b> 与说明</p>', [(W1, "小标题 与说明")]),
    ('<p><img src="./W1.jpg"></p><p>' + "长" * 80 + "</p>", [(W1, "长" * 80)]),
    ('<p><img src="./W1.jpg"></p><p>' + "长" * 81 + "</p>", [(W1, None)]),
    ('<p><img src="./W1.jpg"></p><p><img src="./W2.jpg"></p>',
     [(W1, None), ("https://www.cas.cn/syky/202506/W2.jpg", None)]),
    ('<p>文字<img src="./W1.jpg">文字</p><p>图注</p>', [(W1, None)]),  # an inline image has no caption
    ('<span><img src="./W1.jpg"></span><p>图注</p>', [(W1, "图注")]),
    ('<center><a href="x"><img src="/img/W1.jpg"></a></center><!-- c --><p>图注</p>', [("https://www.cas.cn/img/W1.jpg", "图注")]),
    ('<p>图注</p><!-- c --><div><img src="W1.jpg"></div>', [(W1, "图注")]),
    ('<img src="W1.jpg"><p>图注</p>', [(W1, "图注")]),
    ('<p><img src="./W1.jpg"></p><p> </p>', [(W1, None)]),
    ('<p><img src="data:image/png;base64,AAA"></p><p><img src=" "></p><p><img></p>', []),
    ('<table><tr><td><font><img src="W1.jpg"></font></td></tr></table><p>图注</p>', [(W1, None)]),
])
def test_images_and_their_captions(html, expected):
    from cascrawl.parsers.article import images_with_captions

    body, page = body_of(html)
    assert [(image["url"], image["caption"]) for image in images_with_captions(body, page)] == expected


P = "https://www.cas.cn/syky/202506/"


@pytest.mark.parametrize("html, expected", [
    ('<div>附件下载：<a href="./P1.pdf">附件1</a><a href="javascript:void(0)">x</a><a href="#top">t</a>'
     '<a href="mailto:a@b">m</a><a href=" ">空</a></div>', [(P + "P1.pdf", "附件1")]),
    ('<div><span>附件：</span><a href="./P1.pdf">附件1</a><a href="./P2.doc"></a><p>其他</p><a href="./P3.pdf">不是</a></div>',
     [(P + "P1.pdf", "附件1"), (P + "P2.doc", None)]),
    ('<div><span>附件:</span> <a href="./P1.pdf">附件1</a></div>', [(P + "P1.pdf", "附件1")]),
    ('<div><b>说明</b>附件下载<a href="./P1.pdf">附件1</a><a href="./P2.pdf">附件2</a><i>完</i></div>',
     [(P + "P1.pdf", "附件1"), (P + "P2.pdf", "附件2")]),  # the label in a tail: the links after it
    ('<div><p>附件下載</p><p><a href="./P1.pdf">一</a></p><p><a href="./P2.pdf">二</a></p><p>正文</p></div>',
     [(P + "P1.pdf", "一"), (P + "P2.pdf", "二")]),
    ('<div><b>正文</b>附件<a href="./P1.pdf">附件1</a></div>', []),
    ('<div><script>var a = "附件下载";</script><style>/* 附件下载 */</style><p>无</p></div>', []),
])
def test_attachment_links(html, expected):
    from cascrawl.parsers.article import attachment_links

    _, page = body_of(html)
    assert [(link["url"], link["name"]) for link in attachment_links(page)] == expected


# --- article fields and the path each came from (provenance) ---

def article_page(head="", info="", body="<p>正文。</p>", extra="", h1="<h1>页面标题</h1>", title="页面标题") -> str:
    return (f'<html><head><title>{title}</title>{head}</head><body><div class="detail_title">{h1}</div>'
            f'<div class="detail_info">{info}</div>{extra}<div class="trs_editor_view">{body}</div></body></html>')


META = ('<meta name="ArticleTitle" content="元标题"><meta name="PubDate" content="2025-06-10 08:00">'
        '<meta name="ContentSource" content="物理所,中国科学院"><meta name="Author" content="张三">')


@pytest.mark.parametrize("html, fields, paths", [
    (article_page(head=META), ("元标题", "2025-06-10 08:00", "meta", "物理所", "张三", None),
     {"title": "meta:ArticleTitle", "date": "meta:PubDate", "source": "meta:ContentSource", "author": "meta:Author"}),
    (article_page(info="来源：物理研究所 | 时间：2025-06-09 | 作者：李四"),
     ("页面标题", "2025-06-09", "dom", "物理研究所", "李四", None),
     {"title": "dom:div.detail_title h1", "date": "dom:info-line", "source": "dom:info-line", "author": "dom:info-line"}),
    (article_page(info='<span>来源：<script>document.write("化学所");</script></span><span>2025-06-08</span>'),
     ("页面标题", "2025-06-08", "dom", "化学所", None, None),
     {"title": "dom:div.detail_title h1", "date": "dom:info-line", "source": "dom:info-line-script"}),
    (article_page(info="发布时间：2025-06-07", extra='<span id="source">来源：新华社</span>'),
     ("页面标题", "2025-06-07", "dom", "新华社", None, None),
     {"title": "dom:div.detail_title h1", "date": "dom:info-line", "source": "dom:#source"}),
    (article_page(info="2025-06-07", extra='<span id="source">科技日报</span>'),
     ("页面标题", "2025-06-07", "dom", "科技日报", None, None),
     {"title": "dom:div.detail_title h1", "date": "dom:info-line", "source": "dom:#source"}),
    (article_page(extra="<p>发布时间：2025-06-05 来源：人民日报</p>"),
     ("页面标题", "2025-06-05", "dom", "人民日报", None, None),
     {"title": "dom:div.detail_title h1", "date": "dom:header-labelled", "source": "dom:header-labelled"}),
    (article_page(extra="<p>2025-06-04</p>"), ("页面标题", "2025-06-04", "dom", None, None, None),
     {"title": "dom:div.detail_title h1", "date": "dom:header-date"}),
    (article_page(info="2025-06-04", body="<p>正文。</p><p>（责任编辑：赵六）</p>"),
     ("页面标题", "2025-06-04", "dom", None, None, "赵六"),
     {"title": "dom:div.detail_title h1", "date": "dom:info-line", "editor": "dom:page-labelled"}),
    (article_page(info="2025-06-04", h1="<h1>侧栏标题</h1>"), ("页面标题", "2025-06-04", "dom", None, None, None),
     {"title": "dom:<title>", "date": "dom:info-line"}),  # a heading that disagrees with <title> loses
    (article_page(info="2025-06-04", title="很长的标题被截…", h1="<h1>很长的标题被截断了</h1>"),
     ("很长的标题被截断了", "2025-06-04", "dom", None, None, None),
     {"title": "dom:div.detail_title h1", "date": "dom:info-line"}),  # <title> cut short: the heading wins
    (article_page(info="2025-06-04", h1=""), ("页面标题", "2025-06-04", "dom", None, None, None),
     {"title": "dom:<title>", "date": "dom:info-line"}),
])
def test_article_fields_and_their_provenance(html, fields, paths):
    from cascrawl.parsers import parse_article

    data = parse_article(html, URL)
    assert (data.title, data.date_text, data.date_origin, data.source, data.author, data.editor) == fields
    assert data.provenance == {"parser": "cas.article.current@2025", **paths, "body": "dom:div.trs_editor_view"}


# --- page bytes to text (cascrawl/encoding.py) ---

TEXT = "中国科学院新闻：脑机接口进入临床试验阶段。"


@pytest.mark.parametrize("body, content_type, expected", [
    (TEXT.encode("utf-8"), "text/html; charset=utf-8", "utf-8"),
    (TEXT.encode("utf-8"), b"text/html; charset=utf-8", "utf-8"),  # Scrapy hands the header over as bytes
    (TEXT.encode("gbk"), "text/html; charset=gbk", "gb18030"),  # the GB family is decoded as its superset
    (TEXT.encode("gb18030"), "text/html; charset=gb2312", "gb18030"),
    (TEXT.encode("utf-8"), None, "utf-8"),  # undeclared: detected
    (TEXT.encode("gb18030"), None, "gb18030"),
    (TEXT.encode("gb18030"), "text/html; charset=utf-8", "gb18030"),  # a wrong header: the bytes win
    (f'<meta charset="gbk"><p>{TEXT}</p>'.encode("gbk"), None, "gb18030"),  # <meta charset>
])
def test_page_bytes_are_decoded_with_the_right_encoding(body, content_type, expected):
    from cascrawl.encoding import decode_html

    text, encoding = decode_html(body, content_type)
    assert encoding == expected
    assert text == body.decode(expected) and "\ufffd" not in text


def test_undecodable_bytes_become_replacement_characters_not_an_exception():
    from cascrawl.encoding import decode_html, detect_encoding

    junk = b"abc\x80\xffdef"
    assert detect_encoding(junk) is None
    text, encoding = decode_html(junk, "text/html; charset=utf-8")
    assert encoding == "utf-8" and "\ufffd" in text


def test_detection_tries_utf8_then_gb18030_then_big5():
    from cascrawl.encoding import detect_encoding

    assert detect_encoding("abc".encode()) == "utf-8"
    assert detect_encoding(TEXT.encode("utf-8")) == "utf-8"
    assert detect_encoding(TEXT.encode("gb18030")) == "gb18030"
