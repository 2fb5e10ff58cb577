"""Fuzzing (hypothesis): arbitrary bytes and mutated fixture pages through decoding, the listing and
article parsers, the spider's article callback and the cleaning pipelines. No exception may escape any
of them: a hostile page must end as a stored article or a recorded reject, never as a crashed callback.
The sanitizer (cascrawl/sanitize.py) on anything and on generated hostile fragments: idempotent, never an
event handler or a script URL in what it returns, and the text kept."""

from __future__ import annotations

import html as html_module
from datetime import date, datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itemadapter import ItemAdapter
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from cascrawl.encoding import decode_html, looks_binary
from cascrawl.items import ArticleItem
from cascrawl.parsers import parse_article, parse_listing
from cascrawl.parsers.article import headings_agree
from cascrawl.sanitize import sanitize_html
from cascrawl.text import html_to_text, remove_pinyin_glosses, to_simplified
from cascrawl.pipelines import cleaning_pipelines
from cascrawl.single_page import callback_items
from cascrawl.spiders.cas_news import CasNewsSpider

from .conftest import SITE
from .test_sanitize import assert_safe

BASE = "http://127.0.0.1:8000"
ARTICLE_URL = f"{BASE}/yw/202506/t20250610_5072001.shtml"
LISTING_URL = f"{BASE}/yw/"
PAGES = sorted(SITE.rglob("*.shtml"))
FIXTURES = [path.read_bytes() for path in PAGES]
CONTENT_TYPES = [None, "text/html", "text/html; charset=utf-8", "text/html; charset=gbk", "text/html; charset=big5",
                 "text/html; charset=utf-16", "text/html; charset=no-such-charset", "application/octet-stream"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# What hostile pages are made of: markup that nests, breaks or repeats, control characters, odd encodings.
NASTY = [b"<", b">", b"</div>", b"<div>" * 50, b"<!--", b"-->", b"<![CDATA[", b"<script>", b"</script>", b"\x00",
         b"\x1b", b"\xff\xfe", b"\xef\xbb\xbf", b"&#0;", b"&#xD800;", b"&#1114112;", b"&nbsp;" * 20, b"<meta charset=gbk>",
         b'<meta http-equiv="refresh" content="0;url=http://127.0.0.2/">', b"<title>", b"</title>", b"<h1>", b"(d\xc4\x81ng)",
         "當(dāng)前位置:首頁".encode(), b"<li><a href='//127.0.0.2/yw/202601/t20260101_1.shtml'>", b"createPageHTML(99999999999",
         b"<a href='javascript:alert(1)'>", b"<img src='data:,'>", b"<table><tr><td>" * 30, b"\r\n" * 10]


@st.composite
def mutated_fixture(draw) -> bytes:
    """A fixture page with a few slices cut, repeated or overwritten, and nasty pieces put in."""
    page = bytearray(draw(st.sampled_from(FIXTURES)))
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, len(page)))
        end = min(len(page), start + draw(st.integers(0, 400)))
        action = draw(st.sampled_from(["cut", "repeat", "insert", "nasty", "bytes", "truncate"]))
        if action == "cut":
            del page[start:end]
        elif action == "repeat":
            page[start:start] = page[start:end] * draw(st.integers(1, 5))
        elif action == "insert":
            page[start:start] = draw(st.sampled_from(FIXTURES))[: draw(st.integers(0, 2000))]
        elif action == "nasty":
            page[start:start] = draw(st.sampled_from(NASTY))
        elif action == "bytes":
            page[start:end] = draw(st.binary(max_size=64))
        else:
            del page[start:]
    return bytes(page)


bodies = st.one_of(st.binary(max_size=2048), mutated_fixture(), st.sampled_from(NASTY).map(lambda b: b * 3))
texts = st.one_of(st.text(max_size=300), bodies.map(lambda b: b.decode("utf-8", "replace")))

CRAWLER = get_crawler(CasNewsSpider, {"CASCRAWL_BASE_URL": BASE})
CRAWLER.spider = SPIDER = CasNewsSpider.from_crawler(CRAWLER)
CHAIN = cleaning_pipelines(CRAWLER)


def test_there_are_fixture_pages_to_mutate():
    assert len(FIXTURES) >= 30


@FUZZ
@given(body=bodies, content_type=st.sampled_from(CONTENT_TYPES))
def test_decoding_never_raises(body, content_type):
    text, encoding = decode_html(body, content_type)
    assert isinstance(text, str) and encoding
    looks_binary(body)


@FUZZ
@given(body=bodies)
def test_the_listing_parser_never_raises_and_never_leaves_the_site(body):
    listing = parse_listing(decode_html(body)[0], LISTING_URL, BASE)
    for entry in listing.entries:
        assert entry.url.startswith(f"{BASE}/") and entry.canonical_url.startswith("https://www.cas.cn/")
    assert all(link.startswith(f"{BASE}/") for link in listing.page_links)


@FUZZ
@given(body=bodies)
def test_the_article_parser_never_raises(body):
    data = parse_article(decode_html(body)[0], ARTICLE_URL)
    assert data.parser


@FUZZ
@given(body=bodies, listing_date=st.one_of(st.none(), st.dates(date(1900, 1, 1), date(2100, 1, 1))))
def test_a_fetched_page_always_becomes_an_article_or_a_reject(body, listing_date):
    """The spider's callback and every cleaning pipeline, on any body, as HTML or as an untyped response."""
    for response_class in (HtmlResponse, Response):
        (item,) = callback_items(SPIDER.fetch_article(response_class(ARTICLE_URL, body=body), section="yw",
                                                    listing_date=listing_date))
        for pipeline in CHAIN:
            item = pipeline.process_item(item)
        adapter = ItemAdapter(item)
        assert adapter["reject_reason"] != "extraction_error", adapter["reject_detail"]
        assert adapter["reject_reason"] or (adapter["title"] and adapter["text"] and adapter["published_date"])


@FUZZ
@given(title=texts, html=texts, source=texts, date_text=texts)
def test_the_cleaning_never_raises_on_any_field(title, html, source, date_text):
    item = ArticleItem(url=ARTICLE_URL.replace(BASE, "https://www.cas.cn"), fetched_url=ARTICLE_URL, docid=5072001,
                       section="yw", fetched_at=datetime.now(timezone.utc), http_status=200, title=title, html=html, source=source, author=source,
                       editor=source, date_text=date_text, date_origin="page", url_date=date(2025, 6, 10))
    for pipeline in CHAIN:
        item = pipeline.process_item(item)
    assert ItemAdapter(item)["reject_reason"] or ItemAdapter(item)["text"]


@FUZZ
@given(text=texts, other=texts)
def test_the_text_functions_never_raise(text, other):
    html_to_text(text)
    to_simplified(remove_pinyin_glosses(text))
    headings_agree(text, other)


# --- the sanitizer ---

SCRIPT_URLS = ["javascript:alert(1)", " JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "java\nscript:alert(1)",
               "\x01javascript:alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>",
               "DATA:image/svg+xml,<svg onload=alert(1)>", "livescript:x", "https://www.cas.cn/a.jpg", "/yw/", "#x",
               "mailto:a@cas.cn"]
ATTRIBUTE_NAMES = ["onclick", "onerror", "OnLoad", "onmouseover", "style", "href", "src", "poster", "srcdoc",
                   "formaction", "action", "data", "width", "height", "alt", "class", "id", "target", "rel"]
ATTRIBUTE_VALUES = SCRIPT_URLS + ["alert(1)", "width: expression(alert(1))", "100", "50%", "<script>", '"><b>']
# Elements any element may hold (no parser moves them about), elements only text goes in, and leaves.
CONTAINERS = ["div", "span", "section", "blockquote", "strong", "em", "center", "font", "figure", "li", "table"]
TEXT_HOLDERS = ["p", "h2", "a", "figcaption", "script", "style", "noscript", "iframe", "object", "form", "textarea",
                "template", "svg", "math", "button", "select", "title", "marquee", "x-widget"]
LEAVES = ["img", "br", "hr", "base", "meta", "link", "input", "source", "video"]
# lxml does not know <embed> is void (a browser and the sanitizer do): what follows it is text to them only.
VOID_TO_BROWSERS_ONLY = ["embed"]
# Text of any script but control characters and lone surrogates (which no page carries: cascrawl.text.parseable).
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters=" \n\t"), max_size=12)

attribute = st.tuples(st.sampled_from(ATTRIBUTE_NAMES), st.sampled_from(ATTRIBUTE_VALUES)).map(
    lambda pair: f' {pair[0]}="{html_module.escape(pair[1], quote=True)}"')
attributes = st.lists(attribute, max_size=3).map("".join)
text_node = TEXT.map(html_module.escape)


def _element(children) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(CONTAINERS), attributes, st.lists(children, max_size=4)).map(_container)


def _container(parts: tuple[str, str, list[str]]) -> str:
    tag, attrs, children = parts
    if tag == "table":  # a cell, in the rows a table holds
        return f"<table{attrs}><tbody><tr><td>{''.join(children)}</td><td>.</td></tr></tbody></table>"
    return f"<{tag}{attrs}>{''.join(children)}</{tag}>"


def _fragments(leaves: list[str]) -> st.SearchStrategy[str]:
    holder = st.tuples(st.sampled_from(TEXT_HOLDERS), attributes, text_node).map(
        lambda t: f"<{t[0]}{t[1]}>{t[2]}</{t[0]}>")
    leaf = st.tuples(st.sampled_from(leaves), attributes).map(lambda t: f"<{t[0]}{t[1]}>")
    return st.recursive(st.one_of(text_node, holder, leaf), _element, max_leaves=12)


fragments = _fragments(LEAVES)


@FUZZ
@given(fragment=st.one_of(texts, _fragments(LEAVES + VOID_TO_BROWSERS_ONLY)))
def test_the_sanitizer_is_idempotent_and_leaves_no_handler_or_script_url(fragment):
    clean = sanitize_html(fragment)
    assert sanitize_html(clean) == clean
    assert_safe(clean)


@FUZZ
@given(fragment=fragments)
def test_the_sanitizer_keeps_the_text(fragment):
    assert html_to_text(sanitize_html(fragment)) == html_to_text(fragment)
