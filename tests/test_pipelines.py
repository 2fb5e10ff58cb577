"""The cleaning pipelines as Scrapy builds them: settings read in from_crawler, work counted in the stats,
every rejection carried to the `rejects` table (through a real crawl), nothing dropped silently."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from itemadapter import ItemAdapter
from scrapy.utils.test import get_crawler

import cascrawl.settings as project
from cascrawl.dates import BEIJING, today_in_beijing
from tests.support.fixture_site import serve_site
from cascrawl.items import ArticleItem
from cascrawl.pipelines import cleaning_pipelines
from cascrawl.pipelines.copies import ReservedCopyPipeline
from cascrawl.spiders.cas_news import CasNewsSpider

from .conftest import FAST, SITE, expected_articles, run_cascrawl

URL = "https://www.cas.cn/syky/202506/t20250610_5072001.shtml"


def make_crawler(**settings):
    return get_crawler(CasNewsSpider, settings)


def clean(item: ArticleItem, crawler=None) -> ItemAdapter:
    crawler = crawler or make_crawler()
    for pipeline in cleaning_pipelines(crawler):
        item = pipeline.process_item(item)
    return ItemAdapter(item)


def article(**fields) -> ArticleItem:
    base = dict(url=URL, fetched_url=URL.replace("https://www.cas.cn", "http://127.0.0.1:8000"), docid=5072001,
                section="syky", fetched_at=datetime.now(timezone.utc), template="current",
                title="中国科学院召开工作会议", date_text="2025-06-09 21:40", date_origin="meta",
                url_date=date(2025, 6, 10), html="<p>\u3000\u3000第一段。</p><p>第二段。</p>")
    return ArticleItem(**{**base, **fields})


def test_the_configured_order_is_the_issues_order():
    names = [type(p).__name__ for p in cleaning_pipelines(make_crawler())]
    assert names == ["TextPipeline", "BoilerplatePipeline", "ReservedCopyPipeline", "PublishedDatePipeline",
                     "FieldsPipeline", "ValidatePipeline"]
    assert list(project.ITEM_PIPELINES)[-1] == "cascrawl.pipelines.persist.PersistPipeline"


def test_a_clean_article_passes_every_step_and_each_step_counts():
    crawler = make_crawler()
    item = clean(article(html="<p>\u3000\u3000第一段。</p><p>语音播报</p><p>第二段。</p><p>邮编：100864</p>"), crawler)
    assert item["reject_reason"] is None
    assert item["text"] == "第一段。\n第二段。"
    assert (item["published_date"], item["published_at"]) == (date(2025, 6, 9), datetime(2025, 6, 9, 21, 40, tzinfo=BEIJING))
    assert item["content_hash"] == hashlib.sha256("中国科学院召开工作会议\n第一段。\n第二段。".encode()).hexdigest()
    assert item["script"] == "simplified"
    stats = crawler.stats.get_stats()
    assert stats["cascrawl/clean/text/articles"] == 1 and stats["cascrawl/clean/text/lines"] == 4
    assert stats["cascrawl/clean/boilerplate/lines_removed"] == 2
    assert stats["cascrawl/dates/from_meta"] == 1 and stats["cascrawl/validated"] == 1
    assert not any(key.startswith("cascrawl/rejected/") for key in stats)


def test_a_traditional_glossed_copy_is_unglossed_and_simplified_and_its_script_recorded():
    crawler = make_crawler()
    item = clean(article(title="中科院廣東省全面戰(zhàn)略合作領(lǐng)導(dǎo)小組會議在穗召開",
                         html="<p>&nbsp;&nbsp;要著眼於科技經(jīng)濟社會發(fā)展戰(zhàn)略性問題。</p>",
                         source="來源: 廣東分院"), crawler)
    assert item["title"] == "中科院广东省全面战略合作领导小组会议在穗召开"
    assert item["text"] == "要着眼于科技经济社会发展战略性问题。"
    assert (item["script"], item["source"]) == ("traditional", "广东分院")
    stats = crawler.stats.get_stats()
    assert stats["cascrawl/clean/copies/glosses_removed"] == 6
    assert stats["cascrawl/clean/copies/converted_to_simplified"] == 1


def test_script_keep_leaves_traditional_as_published_but_still_removes_glosses():
    crawler = make_crawler(CASCRAWL_SCRIPT="keep")
    item = clean(article(title="中科院廣東省全面戰(zhàn)略合作領(lǐng)導(dǎo)小組會議在穗召開",
                         html="<p>院省相關(guān)領(lǐng)導(dǎo)參加會議。</p><p>網(wǎng)站標(biāo)識碼bm48000017</p>"), crawler)
    assert (item["title"], item["text"], item["script"]) == (
        "中科院廣東省全面戰略合作領導小組會議在穗召開", "院省相關領導參加會議。", "traditional")
    assert crawler.stats.get_value("cascrawl/clean/copies/traditional_kept") == 1


def test_an_unknown_script_mode_stops_the_crawl_at_start():
    with pytest.raises(ValueError, match="CASCRAWL_SCRIPT must be one of simplified, keep"):
        ReservedCopyPipeline.from_crawler(make_crawler(CASCRAWL_SCRIPT="traditional"))


def test_an_item_filed_under_its_copy_url_is_moved_to_the_canonical_url():
    copy = "https://copy.example/gzdt/202011/t20201123_4767746.html"
    crawler = make_crawler()
    item = clean(article(url=copy, fetched_url=copy, docid=0, section="?", url_date=None, date_text=None), crawler)
    assert (item["url"], item["docid"], item["section"]) == ("https://www.cas.cn/gzdt/202011/t20201123_4767746.shtml", 4767746, "gzdt")
    assert (item["published_date"], item["reject_reason"]) == (date(2020, 11, 23), None)  # from the URL
    assert crawler.stats.get_value("cascrawl/clean/copies/url_canonicalized") == 1


def test_an_operator_pattern_given_with_dash_s_is_applied():
    crawler = make_crawler(CASCRAWL_BOILERPLATE_EXTRA_PATTERNS='["责任校对[:：]\\\\S+"]')  # what -s hands over
    item = clean(article(html="<p>第一段。</p><p>责任校对：李某</p>"), crawler)
    assert item["text"] == "第一段。"


# --- the date policy ---------------------------------------------------------------------------

def test_an_implausible_page_date_gives_way_to_the_url_date_and_is_recorded():
    crawler = make_crawler()
    item = clean(article(date_text="2099-06-09 21:40"), crawler)
    assert item["reject_reason"] is None
    assert (item["published_date"], item["published_at"]) == (date(2025, 6, 10), None)
    assert item["provenance"]["published"] == "url"
    assert item["provenance"]["published_passed_over"] == "meta '2099-06-09 21:40' is in the future"
    assert crawler.stats.get_value("cascrawl/dates/implausible/meta") == 1


def test_without_any_plausible_date_the_item_is_rejected_as_implausible_with_every_candidate():
    crawler = make_crawler()
    tomorrow_but_one = today_in_beijing() + timedelta(days=2)
    item = clean(article(date_text="1900-01-01", url_date=tomorrow_but_one), crawler)
    assert item["reject_reason"] == "implausible_date"
    assert item["reject_detail"] == (f"no plausible date: meta '1900-01-01' is before 1949; "
                                     f"url '{tomorrow_but_one.isoformat()}' is in the future")
    assert item["published_date"] is None
    assert crawler.stats.get_value("cascrawl/rejected/implausible_date") == 1


def test_without_any_date_the_item_is_rejected_as_missing_date():
    item = clean(article(date_text="不是日期", url_date=None))
    assert item["reject_reason"] == "missing_date"


def test_a_page_date_more_than_a_day_from_the_url_date_is_counted():
    crawler = make_crawler()
    clean(article(date_text="2025-06-01"), crawler)
    assert crawler.stats.get_value("cascrawl/dates/page_differs_from_url") == 1


# --- fields and validation ---------------------------------------------------------------------

def test_source_author_and_editor_lose_labels_brackets_and_the_cas_tail():
    crawler = make_crawler()
    item = clean(article(source="来源：地球化学研究所,中国科学院", author="作者：张某某", editor="（责任编辑：王某某）"), crawler)
    assert (item["source"], item["author"], item["editor"]) == ("地球化学研究所", "张某某", "王某某")
    item = clean(article(source="来源： ", author=None, editor=""), crawler)
    assert (item["source"], item["author"], item["editor"]) == (None, None, None)
    assert crawler.stats.get_value("cascrawl/clean/fields/source_null") == 1


@pytest.mark.parametrize("fields, reason", [
    ({"http_status": 404, "html": None, "title": None}, "http_404"),
    ({"title": "当前位置：首页 >> 科研进展"}, "boilerplate_title"),
    ({"title": None}, "missing_title"),
    ({"title": "长" * 201}, "implausible_title"),
    ({"html": "<p>&nbsp;</p><p>扫一扫在手机打开当前页</p>"}, "missing_body"),
    ({"url": "https://www.cas.cn/syky/", "fetched_url": "https://www.cas.cn/syky/"}, "not_an_article_url"),
])
def test_each_rejection_has_its_reason(fields, reason):
    crawler = make_crawler()
    item = clean(article(**fields), crawler)
    assert item["reject_reason"] == reason and item["reject_detail"]
    assert crawler.stats.get_value(f"cascrawl/rejected/{reason}") == 1


def _gzdt_site(root: Path) -> Path:
    """A one-section copy of the site: the sample article plus three variants of it."""
    source = SITE / "gzdt"
    page = (source / "202011" / "t20201123_4767746.shtml").read_text(encoding="utf-8")
    variants = {
        "t20201124_4767747": ("2020-11-24", page.replace("時間:2020-11-22", "時間:2099-11-22")),  # page date implausible
        "t20991123_4767748": ("2099-11-23", page.replace("時間:2020-11-22", "時間:2099-11-22")),  # no date plausible
        "t20201125_4767749": ("2020-11-25", re.sub(r"中科院廣東省[^<]*?召開", "語音播報", page)),  # a boilerplate title
    }
    (root / "gzdt" / "202011").mkdir(parents=True)
    (root / "gzdt" / "202011" / "t20201123_4767746.shtml").write_text(page, encoding="utf-8")
    listing = (source / "index.shtml").read_text(encoding="utf-8")
    entry = re.search(r"<li><span>2020-11-22</span>.*?</li>\n", listing).group(0)
    entries = entry
    for name, (day, html) in variants.items():
        (root / "gzdt" / "202011" / f"{name}.shtml").write_text(html, encoding="utf-8")
        entries += entry.replace("2020-11-22", day).replace("t20201123_4767746", name)
    (root / "gzdt" / "index.shtml").write_text(listing.replace(entry, entries), encoding="utf-8")
    return root


def test_rejections_reach_the_rejects_table_and_the_date_policy_holds_in_a_real_crawl(tmp_path):
    """`cascrawl crawl` over a small copy: what is kept is stored, what is not is a `rejects` row with its reason."""
    db_url = f"sqlite:///{tmp_path / 'policy.db'}"
    with serve_site(_gzdt_site(tmp_path / "site")) as base:
        result = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "gzdt", *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 articles stored, 2 rejected (boilerplate_title: 1, implausible_date: 1)" in result.stdout
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        articles = {docid: (day, json.loads(provenance)) for docid, day, provenance in
                    connection.execute("SELECT docid, published_date, provenance FROM articles")}
        rejects = {url.rsplit("/", 1)[-1]: (reason, detail) for url, reason, detail in
                   connection.execute("SELECT url, reason, detail FROM rejects")}
    finally:
        connection.close()
    assert sorted(articles) == [4767746, 4767747]
    assert articles[4767746][0] == "2020-11-22" and "published_passed_over" not in articles[4767746][1]
    day, provenance = articles[4767747]  # the page says 2099: the listing's date is used, and said so
    assert (day, provenance["published"]) == ("2020-11-24", "listing")
    assert provenance["published_passed_over"] == "page '2099-11-22' is in the future"
    assert sorted(rejects) == ["t20201125_4767749.shtml", "t20991123_4767748.shtml"]
    assert rejects["t20201125_4767749.shtml"][0] == "boilerplate_title"
    reason, detail = rejects["t20991123_4767748.shtml"]
    assert reason == "implausible_date" and "2099-11-22" in detail and "2099-11-23" in detail


def test_an_operator_extends_the_patterns_on_the_command_line(site_url, tmp_path):
    """`-s CASCRAWL_BOILERPLATE_EXTRA_PATTERNS=[…]` through the real `cascrawl crawl` into SQLite."""
    caption = "12月9日，“实验6”号科考船停靠在广州南沙的码头。新华社记者李某摄"
    db_url = f"sqlite:///{tmp_path / 'extra.db'}"
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "cm", *FAST,
                          "-s", "CASCRAWL_BOILERPLATE_EXTRA_PATTERNS=" + json.dumps([r".*新华社记者\S+摄"]))
    assert result.returncode == 0, result.stderr[-3000:]
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        texts = dict(connection.execute("SELECT url, text FROM articles"))
    finally:
        connection.close()
    expected = {e["url"]: e["text"] for e in expected_articles() if e["section"] == "cm"}
    assert sorted(texts) == sorted(expected)
    for url, text in expected.items():
        assert texts[url] == "\n".join(line for line in text.split("\n") if line != caption)
    assert any(caption in text for text in expected.values())  # the pattern had something to remove


def test_the_cleaning_benchmark_runs_and_reports_ms_per_article():
    """Not a timing test: the script must keep working, and every fixture article must pass cleaning."""
    import subprocess
    import sys

    from .conftest import REPO

    result = subprocess.run([sys.executable, "scripts/bench_clean.py", "--rounds", "1"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"cleaning {len(expected_articles(unlisted=True))} fixture articles x 1 rounds" in result.stdout
    assert [line.split()[0] for line in result.stdout.splitlines()[2:]] == [
        "TextPipeline", "BoilerplatePipeline", "ReservedCopyPipeline", "PublishedDatePipeline", "FieldsPipeline",
        "ValidatePipeline", "all", "(extraction,"]


@pytest.mark.parametrize("page_date, counted", [("2025-06-10", None), ("2025-06-09", None), ("2025-06-11", None),
                                                 ("2025-06-08", 1), ("2025-06-12", 1)])
def test_only_a_gap_of_more_than_one_day_between_page_and_url_date_is_counted(page_date, counted):
    crawler = make_crawler()  # the URL says 2025-06-10; the CMS may write it a day off (midnight, time zones)
    clean(article(date_text=page_date), crawler)
    assert crawler.stats.get_value("cascrawl/dates/page_differs_from_url") == counted


def test_a_listing_date_far_from_the_url_date_is_not_a_page_date_and_not_counted():
    crawler = make_crawler()
    clean(article(date_text=None, listing_date=date(2025, 6, 1)), crawler)
    assert crawler.stats.get_value("cascrawl/dates/page_differs_from_url") is None
