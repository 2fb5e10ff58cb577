"""`cascrawl extract FILE|URL`: the real command in a child process, on the fixture copy's pages."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.support.fixture_site import serve_site

from .conftest import SITE, expected_articles, run_cascrawl

CONTRACT = ("url", "section", "title", "published_date", "published_at", "source", "author", "editor", "text",
            "attachments", "images")
BY_PAGE = {a["page"].relative_to(SITE).as_posix(): a for a in expected_articles()}
# a current-layout page, the GBK page with no charset, a re-served Traditional copy, a two-level section, generic
PAGES = ["syky/202506/t20250614_5073157.shtml", "yx/201712/t20171205_4625813.shtml",
         "zjs/202104/t20210415_4785012.shtml", "djcx/wm/201502/t20150202_4308077.shtml",
         "kj/202310/t20231020_4991234.shtml"]


class Raising:
    """An operator's pipeline that fails on every item."""

    def process_item(self, item):
        raise KeyError("no such field")


def _json(result) -> dict:
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("relative", PAGES)
def test_a_saved_page_gives_the_record_a_crawl_would_store(relative):
    expected = BY_PAGE[relative]
    result = run_cascrawl("extract", str(SITE / relative), "--json")
    assert result.returncode == 0, result.stderr
    record = _json(result)
    assert {key: record[key] for key in CONTRACT} == {key: expected[key] for key in CONTRACT}
    assert record["rejected"] is None and record["template"] == record["provenance"]["parser"]


def test_the_summary_shows_each_field_with_where_it_came_from():
    result = run_cascrawl("extract", str(SITE / "syky/202506/t20250614_5073157.shtml"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "https://www.cas.cn/syky/202506/t20250614_5073157.shtml: would be stored as an article"
    assert "  title        我国侵入式脑机接口进入临床试验阶段   [meta:ArticleTitle]" in lines
    assert "  template     cas.article.current@2025" in lines
    assert "  published    2025-06-14 16:30 +08:00   [page]" in lines  # the layout's info line comes before PubDate
    assert BY_PAGE["syky/202506/t20250614_5073157.shtml"]["text"] in result.stdout


def test_a_fetched_url_gives_the_same_record_and_an_error_status_is_a_rejection():
    relative = "cm/202412/t20241210_5042234.shtml"
    with serve_site() as base:
        fetched = run_cascrawl("extract", f"{base}/{relative}", "--json", timeout=60)
        missing = run_cascrawl("extract", f"{base}/cm/202412/t20241210_9999999.shtml", timeout=60)
    assert fetched.returncode == 0, fetched.stderr
    record = _json(fetched)
    assert {key: record[key] for key in CONTRACT} == {key: BY_PAGE[relative][key] for key in CONTRACT}
    assert missing.returncode == 4, missing.stderr
    assert missing.stdout.startswith("https://www.cas.cn/cm/202412/t20241210_9999999.shtml: REJECTED http_404:")


def test_a_rejected_page_says_why_and_exits_4(tmp_path):
    saved = tmp_path / "saved-page.html"  # no site path: its own file:// URL, which is no article URL
    shutil.copy(SITE / "syky/202506/t20250614_5073157.shtml", saved)
    result = run_cascrawl("extract", str(saved))
    assert result.returncode == 4, result.stderr
    assert result.stdout.startswith(f"{saved.as_uri()}: REJECTED not_an_article_url: ")
    as_json = run_cascrawl("extract", str(saved), "--json")
    assert as_json.returncode == 4
    assert _json(as_json)["rejected"]["reason"] == "not_an_article_url"
    assert "cascrawl: rejected: not_an_article_url" in as_json.stderr
    # given its URL, the same file is an article
    named = run_cascrawl("extract", str(saved), "--url", "https://www.cas.cn/syky/202506/t20250614_5073157.shtml",
                         "--json")
    assert named.returncode == 0 and _json(named)["title"] == "我国侵入式脑机接口进入临床试验阶段"


def test_settings_given_with_s_reach_the_cleaning():
    relative = "zjs/202104/t20210415_4785012.shtml"
    kept = run_cascrawl("extract", str(SITE / relative), "--json", "-s", "CASCRAWL_SCRIPT=keep")
    assert kept.returncode == 0, kept.stderr
    assert _json(kept)["title"] != BY_PAGE[relative]["title"]  # Traditional, as published
    refused = run_cascrawl("extract", str(SITE / relative), "-s", "CASCRAWL_SCRIPT=latin")
    assert refused.returncode == 2 and refused.stderr.startswith("cascrawl: error: CASCRAWL_SCRIPT must be one of")


def test_a_pipeline_that_raises_is_one_line_and_exit_1():
    result = run_cascrawl("extract", str(SITE / "syky/202506/t20250614_5073157.shtml"),
                          "-s", 'ITEM_PIPELINES={"tests.test_cli_extract.Raising": 600}')
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == ("cascrawl: error: the cleaning pipelines failed on this page: "
                                     "KeyError: 'no such field'")


@pytest.mark.parametrize("argument, code, message", [
    ("/no/such/page.shtml", 1, "cascrawl: error: cannot read /no/such/page.shtml: No such file or directory"),
    (str(SITE), 1, f"cascrawl: error: cannot read {SITE}: Is a directory"),
    ("http://127.0.0.1:9/page.shtml", 1, "cascrawl: error: cannot fetch http://127.0.0.1:9/page.shtml: "),
    ("ftp://example.org/page.shtml", 2, "cascrawl extract: error: expected a FILE or an http(s) URL, got 'ftp://example.org/page.shtml'"),
])
def test_a_page_that_cannot_be_read_is_one_line(argument, code, message):
    result = run_cascrawl("extract", argument)
    assert result.returncode == code
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_the_docs_state_the_exit_codes_the_command_uses():
    from cascrawl.cli.extract import EXIT_REJECTED, EXIT_UNREADABLE

    from .conftest import REPO

    text = " ".join((REPO / "docs" / "getting-started.md").read_text("utf-8").split())
    assert (f"Exit codes: `0` the page would be stored as an article; `{EXIT_REJECTED}` validation would reject it"
            in text)
    assert f"`{EXIT_UNREADABLE}` the page could not be read" in text and "`2` bad usage (not a file or http(s) URL" in text
