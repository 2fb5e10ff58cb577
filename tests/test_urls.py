from datetime import date

import pytest

from cascrawl.urls import (article_ref, listing_page_number, listing_page_url, normalize_base_url, parse_article_url, site_link,
                           stored_url)

BASE = "http://127.0.0.1:8000"


@pytest.mark.parametrize("url", [
    "https://www.cas.cn/syky/202506/t20250614_5073157.shtml",
    "http://www.cas.cn/syky/202506/t20250614_5073157.shtml",
    "http://www.cas.ac.cn/syky/202506/t20250614_5073157.shtml",
    "http://127.0.0.1:8000/syky/202506/t20250614_5073157.shtml",
])
def test_every_host_and_scheme_gives_one_canonical_url(url):
    ref = parse_article_url(url)
    assert ref.canonical_url == "https://www.cas.cn/syky/202506/t20250614_5073157.shtml"
    assert (ref.section, ref.docid, ref.url_date) == ("syky", 5073157, date(2025, 6, 14))


def test_two_level_sections_and_copies_with_html_suffix():
    assert parse_article_url("https://www.cas.cn/djcx/gz/201502/t20150202_4308077.shtml").section == "djcx/gz"
    copy = parse_article_url("https://example.org/gzdt/202011/t20201123_4767746.html")
    assert copy.canonical_url == "https://www.cas.cn/gzdt/202011/t20201123_4767746.shtml"


@pytest.mark.parametrize("url", ["https://www.cas.cn/yw/", "https://www.cas.cn/yw/index_2.shtml", "https://www.cas.cn/yw/202506/"])
def test_listing_and_other_urls_are_not_articles(url):
    assert parse_article_url(url) is None


@pytest.mark.parametrize("href, expected", [
    ("./202011/t20201122_4768286.shtml", f"{BASE}/yw/202011/t20201122_4768286.shtml"),
    ("../syky/202011/t20201122_4768286.shtml", f"{BASE}/syky/202011/t20201122_4768286.shtml"),
    ("//www.cas.cn/syky/202506/t20250614_5073157.shtml", f"{BASE}/syky/202506/t20250614_5073157.shtml"),
    ("https://www.cas.ac.cn/syky/202506/t20250614_5073157.shtml", f"{BASE}/syky/202506/t20250614_5073157.shtml"),
    ("http://www.news.cn/tech/20250612/abcdef.htm", None),
    ("javascript:void(0)", None),
    ("", None),
])
def test_links_resolve_onto_the_crawled_copy_or_are_off_site(href, expected):
    assert site_link(href, f"{BASE}/yw/index.shtml", BASE) == expected


def test_listing_pages():
    assert listing_page_url("https://www.cas.cn/yw/", 0) == "https://www.cas.cn/yw/"
    assert listing_page_url("https://www.cas.cn/yw/", 3) == "https://www.cas.cn/yw/index_3.shtml"
    assert [listing_page_number(u) for u in ("https://www.cas.cn/yw/", "https://www.cas.cn/yw/index.shtml",
                                             "https://www.cas.cn/yw/index_12.shtml", "https://www.cas.cn/yw/a.shtml")] == [0, 0, 12, None]


def test_base_url_must_have_a_scheme():
    assert normalize_base_url("https://www.cas.cn/") == "https://www.cas.cn"
    with pytest.raises(ValueError, match="base URL"):
        normalize_base_url("www.cas.cn")


def test_an_article_is_stored_under_its_canonical_url_and_anything_else_under_itself():
    assert stored_url("http://127.0.0.1:8000/syky/202506/t20250614_5073157.html") == \
        "https://www.cas.cn/syky/202506/t20250614_5073157.shtml"
    assert stored_url("http://127.0.0.1:8000/syky/index.shtml") == "http://127.0.0.1:8000/syky/index.shtml"


def test_an_articles_reference_comes_from_its_url_else_from_where_it_was_fetched():
    copy = "https://example.org/gzdt/202011/t20201123_4767746.html"
    assert article_ref("https://www.cas.cn/yw/202506/t20250614_1.shtml", copy).docid == 1
    assert article_ref("file:///tmp/page.html", copy).canonical_url == "https://www.cas.cn/gzdt/202011/t20201123_4767746.shtml"
    assert article_ref(None, None) is None and article_ref("https://www.cas.cn/yw/", None) is None
