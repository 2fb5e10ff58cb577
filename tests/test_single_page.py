"""cascrawl.single_page: one page through the crawl's own extraction and cleaning, no engine, no database."""

from __future__ import annotations

import pytest
from itemadapter import ItemAdapter

from cascrawl.single_page import RECORD_KEYS, PageExtractor, extract_page, project_settings
from cascrawl.pipelines import cleaning_pipeline_paths

from .conftest import SITE, expected_articles

CONTRACT = ("url", "section", "title", "published_date", "published_at", "source", "author", "editor", "text",
            "attachments", "images")
ARTICLES = expected_articles()


class Marking:
    """An operator's pipeline: it says it ran, in the provenance."""

    def __init__(self, name):
        self.name = name

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("MARK", "ran"))

    def process_item(self, item):
        adapter = ItemAdapter(item)
        adapter["provenance"] = {**(adapter.get("provenance") or {}), "marked": self.name}
        return item


class AfterPersist(Marking):
    def process_item(self, item):
        raise AssertionError("a pipeline after persistence ran")


@pytest.mark.parametrize("expected", ARTICLES, ids=[a["page"].name for a in ARTICLES])
def test_every_gold_page_comes_out_as_its_expected_record(expected):
    page = extract_page(expected["page"].read_bytes(), None, expected["url"])
    record = page.record()
    assert list(record) == list(RECORD_KEYS)
    assert record["rejected"] is None and page.rejected is None
    assert {key: record[key] for key in CONTRACT} == {key: expected[key] for key in CONTRACT}
    assert record["template"] == record["provenance"]["parser"]
    assert len(record["content_hash"]) == 64


def test_a_page_validation_refuses_carries_the_reason_the_crawl_would_record():
    page = SITE / "syky" / "202506" / "t20250614_5073157.shtml"
    stored = extract_page(page.read_bytes(), "text/html", "file:///tmp/saved.html")
    assert stored.rejected[0] == "not_an_article_url"
    assert stored.record()["rejected"] == {"reason": "not_an_article_url", "detail": stored.rejected[1]}
    assert stored.stats["cascrawl/rejected/not_an_article_url"] == 1
    assert any("not_an_article_url" in line for line in stored.log)
    assert stored.record()["title"] == "我国侵入式脑机接口进入临床试验阶段"  # extracted all the same


def test_an_http_error_page_and_a_binary_body_are_the_crawls_rejections():
    url = "https://www.cas.cn/syky/202506/t20250614_5073157.shtml"
    assert extract_page(b"<html><body>Not Found</body></html>", "text/html", url, status=404).rejected[0] == "http_404"
    assert extract_page(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", url).rejected[0] == "not_html"


def test_the_bytes_are_decoded_as_the_crawl_decodes_them():
    """B4: GBK bytes, no charset anywhere; only the right detection gives 镕 and 喆."""
    page = SITE / "yx" / "201712" / "t20171205_4625813.shtml"
    (expected,) = [a for a in ARTICLES if a["page"] == page]
    stored = extract_page(page.read_bytes(), "text/html", expected["url"])
    assert stored.item["provenance"]["encoding"] == "gb18030"
    assert stored.item["text"] == expected["text"]


def test_settings_reach_the_pipelines():
    """A re-served Traditional copy: Simplified by default, as published with CASCRAWL_SCRIPT=keep."""
    page = SITE / "zjs" / "202104" / "t20210415_4785012.shtml"
    (expected,) = [a for a in ARTICLES if a["page"] == page]
    simplified = extract_page(page.read_bytes(), None, expected["url"])
    kept = extract_page(page.read_bytes(), None, expected["url"], {"CASCRAWL_SCRIPT": "keep"})
    assert simplified.item["script"] == kept.item["script"] == "traditional"
    assert simplified.item["title"] == expected["title"] and kept.item["title"] != expected["title"]


def test_the_pipelines_before_persistence_run_in_the_settings_order():
    pipelines = {
        "cascrawl.pipelines.text.TextPipeline": 100, "cascrawl.pipelines.validate.ValidatePipeline": 800,
        "tests.test_single_page.Marking": 600, "cascrawl.pipelines.media.MediaArchivePipeline": 850,
        "cascrawl.pipelines.persist.PersistPipeline": 900, "tests.test_single_page.AfterPersist": 950,
    }
    settings = project_settings({"ITEM_PIPELINES": pipelines, "MARK": "by the operator"})
    assert cleaning_pipeline_paths(settings) == [
        "cascrawl.pipelines.text.TextPipeline", "tests.test_single_page.Marking", "cascrawl.pipelines.validate.ValidatePipeline"]
    page = SITE / "syky" / "202506" / "t20250614_5073157.shtml"
    stored = PageExtractor(settings)(page.read_bytes(), None, "https://www.cas.cn/syky/202506/t20250614_5073157.shtml")
    assert stored.item["provenance"]["marked"] == "by the operator"
    # no dates step in this list: validation says so, as the same crawl would
    assert stored.rejected[0] == "missing_date"
