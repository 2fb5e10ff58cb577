"""Cleaning rules pinned one behaviour at a time: text, script detection, dates, boilerplate settings,
URLs, page decoding and what each cleaning pipeline changes and counts. Each test states a rule (many
were gaps `make mutation` showed); none depends on how a rule is written."""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, timedelta

import pytest
from itemadapter import ItemAdapter
from scrapy.utils.test import get_crawler

from cascrawl.boilerplate import MAX_LINE, BoilerplateError, BoilerplateFilter, parse_patterns
from cascrawl.dates import BEIJING, PassedOver, is_plausible, parse_datetime, resolve, resolve_published
from cascrawl.encoding import decode_html
from cascrawl.items import ArticleItem
from cascrawl.text import content_hash, detect_script, html_to_text, parseable
from cascrawl.urls import (canonical_article_url, listing_page_number, normalize_base_url, parse_article_url,
                           section_url, site_link)

URL = "https://www.cas.cn/syky/202506/t20250610_5072001.shtml"
MIRROR = "http://127.0.0.1:8000/syky/202506/t20250610_5072001.shtml"


# --- text (cascrawl/text.py) ---

def test_characters_lxml_refuses_are_removed_before_parsing():
    assert parseable("正\x00文\x0b。\ufffe") == "正文。"


def test_an_empty_fragment_has_no_text():
    assert html_to_text("") == "" and html_to_text(" \n ") == ""


def test_a_fragment_shaped_like_a_whole_document_still_gives_its_text():
    assert html_to_text("<html><head></head></html><p>正文</p>") == "正文"


def test_scripts_forms_controls_and_embedded_content_give_no_text():
    html = ("<p>正文</p><script>var a = 1;</script><style>.a{}</style><noscript>请启用脚本</noscript>"
            "<template>模板</template><iframe>框架</iframe><object>对象</object><textarea>留言</textarea>"
            "<select><option>选项</option></select><button>提交</button><form><p>表单</p></form><p>结尾</p>")
    assert html_to_text(html) == "正文\n结尾"


def test_html_comments_give_no_text():
    assert html_to_text("<p>正文<!-- 编辑注释 -->继续</p><!-- 尾注 -->") == "正文继续"


SIMPLIFIED = "中文字体研究工作"  # t2s leaves these as they are
TRADITIONAL = "國際學術會議"  # t2s changes every one


@pytest.mark.parametrize("text, script", [
    ("abc 123", "simplified"),  # no Han characters at all
    (TRADITIONAL[:3] + "中" * 147, "traditional"),  # 3 of 150 changed: 2%, the threshold
    (TRADITIONAL[:3] + "中" * 148, "simplified"),  # 3 of 151: under 2%
    (TRADITIONAL[:2] + "中" * 8, "simplified"),  # 20%, but only 2 characters
    (TRADITIONAL[:3] + "中" * 997, "simplified"),  # 3 of 1000
    ("a".join(TRADITIONAL[:3] + "中" * 97), "traditional"),  # only Han characters are counted: 3 of 100
    (SIMPLIFIED * 10, "simplified"),
    ("國" * 80 + "中" * 3921, "traditional"),  # only the first 4,000 Han characters are read: 80 of them, 2%
])
def test_the_script_is_traditional_from_three_changed_characters_and_two_percent(text, script):
    assert detect_script(text) == script


def test_the_content_hash_is_the_documented_sha256_a_missing_field_counting_as_empty():
    """docs/export.md: sha256 of title + "\\n" + text (UTF-8), so a consumer can recompute it."""
    def sha256(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    assert content_hash("标题", "正文") == sha256("标题\n正文")
    assert content_hash(None, "正文") == content_hash("", "正文") == sha256("\n正文")
    assert content_hash("标题", None) == content_hash("标题", "") == sha256("标题\n")


# --- dates (cascrawl/dates.py) ---

def test_plausible_dates_run_from_1949_to_tomorrow():
    today = date(2025, 6, 10)
    assert is_plausible(date(1949, 1, 1), today) and is_plausible(date(2025, 6, 11), today)
    assert not is_plausible(date(1948, 12, 31), today) and not is_plausible(date(2025, 6, 12), today)


def test_the_future_is_judged_against_the_given_day():
    candidates = [("meta", "2025-06-20"), ("url", date(2025, 6, 10))]
    found = resolve(candidates, today=date(2025, 6, 12))
    assert (found.published.date, found.published.origin) == (date(2025, 6, 10), "url")
    assert found.passed_over == (PassedOver("meta", "2025-06-20", "in the future"),)
    assert resolve_published(candidates, today=date(2025, 6, 12)).origin == "url"
    assert resolve_published(candidates, today=date(2025, 6, 19)).origin == "meta"


def test_an_unparseable_candidate_is_passed_over_with_its_text():
    found = resolve([("meta", "不是日期"), ("url", date(2025, 6, 10))], today=date(2025, 6, 12))
    assert found.passed_over == (PassedOver("meta", "不是日期", "unparseable"),)
    assert found.implausible == ()


def test_a_datetime_candidate_keeps_its_time_of_day_in_beijing():
    moment = datetime(2025, 6, 9, 13, 40, tzinfo=BEIJING)
    found = resolve([("meta", moment)], today=date(2025, 6, 12)).published
    assert found.date == date(2025, 6, 9) and found.at == moment and found.at.utcoffset() == timedelta(hours=8)


def test_dates_in_words_are_read_in_beijing_time():
    moment, has_time = parse_datetime("June 9, 2025 21:40")
    assert has_time and (moment.date(), moment.hour, moment.minute) == (date(2025, 6, 9), 21, 40)
    assert moment.utcoffset() == timedelta(hours=8)


# --- boilerplate patterns (cascrawl/boilerplate.py) ---

def test_an_empty_patterns_setting_means_no_patterns():
    assert parse_patterns("") == [] and parse_patterns(None) == []


def test_a_patterns_setting_of_the_wrong_type_is_refused_with_its_type():
    with pytest.raises(BoilerplateError, match="must be a list of strings, got int"):
        parse_patterns(5)


def test_patterns_ignore_letter_case():
    assert BoilerplateFilter(["share this"]).is_boilerplate("SHARE This")


def test_a_line_of_max_line_characters_may_be_boilerplate_a_longer_one_not():
    filter_ = BoilerplateFilter(["版权所有.*"])
    assert filter_.is_boilerplate("版权所有" + "。" * (MAX_LINE - 4))
    assert not filter_.is_boilerplate("版权所有" + "。" * (MAX_LINE - 3))


# --- URLs (cascrawl/urls.py) ---

def test_canonical_article_urls_and_section_urls():
    assert canonical_article_url(MIRROR) == URL
    assert canonical_article_url("http://127.0.0.1:8000/syky/index.shtml") is None
    assert section_url("http://127.0.0.1:8000/mirror/", "/syky/") == "http://127.0.0.1:8000/mirror/syky/"


@pytest.mark.parametrize("base", ["ftp://www.cas.cn", "https://", "www.cas.cn"])
def test_a_base_url_needs_an_http_scheme_and_a_host(base):
    with pytest.raises(ValueError, match="base URL must look like"):
        normalize_base_url(base)


def test_a_base_url_keeps_its_path_without_the_trailing_slash():
    assert normalize_base_url(" http://127.0.0.1:8000/mirror/ ") == "http://127.0.0.1:8000/mirror"


def test_a_link_to_an_anchor_of_the_page_is_no_link():
    assert site_link("#top", URL, "https://www.cas.cn") is None
    assert site_link("  ", URL, "https://www.cas.cn") is None


def test_the_site_root_is_listing_page_zero():
    assert listing_page_number("https://www.cas.cn") == 0


def test_an_article_url_with_an_impossible_date_has_no_url_date():
    ref = parse_article_url("https://www.cas.cn/syky/202502/t20250230_5072001.shtml")
    assert ref is not None and ref.url_date is None and ref.docid == 5072001


# --- page decoding (cascrawl/encoding.py) ---

def test_a_charset_in_a_bytes_header_is_honoured():
    traditional = "中國科學院新聞：腦機介面進入臨床試驗階段。"
    body = traditional.encode("big5")  # also valid GB18030: only the header says which it is
    assert decode_html(body, b"text/html; charset=big5") == (traditional, "big5hkscs")  # w3lib: Big5's superset
    assert decode_html(body, None)[1] == "gb18030"


def test_undeclared_undecodable_bytes_fall_back_to_utf8():
    text, encoding = decode_html(b"abc\x80\xffdef", None)
    assert encoding == "utf-8" and text.startswith("abc") and text.endswith("def") and "\ufffd" in text


# --- what each cleaning pipeline changes and counts (pipelines/) ---

def item(**fields) -> ArticleItem:
    base = dict(url=URL, fetched_url=URL, fetched_at=None, docid=5072001, section="syky", title="标题", text="正文。")
    return ArticleItem(**{**base, **fields})


def stats_of(crawler, prefix: str) -> dict:
    return {k.removeprefix(prefix): v for k, v in crawler.stats.get_stats().items() if k.startswith(prefix)}


def test_an_earlier_rejection_is_kept():
    from cascrawl.pipelines import reject

    adapter = ItemAdapter(item())
    assert reject(adapter, "first", "why first") is True
    assert reject(adapter, "second", "why second") is False
    assert (adapter["reject_reason"], adapter["reject_detail"]) == ("first", "why first")


def test_cleaning_pipelines_follow_the_crawlers_own_item_pipelines():
    from cascrawl.pipelines import cleaning_pipelines
    from cascrawl.pipelines.text import TextPipeline
    from cascrawl.pipelines.validate import ValidatePipeline

    crawler = get_crawler(settings_dict={"ITEM_PIPELINES": {
        "cascrawl.pipelines.validate.ValidatePipeline": 900, "cascrawl.pipelines.text.TextPipeline": 100,
        "cascrawl.pipelines.persist.PersistPipeline": 950}})
    assert [type(p) for p in cleaning_pipelines(crawler)] == [TextPipeline, ValidatePipeline]


def test_the_text_step_normalizes_text_given_without_html_and_counts_empty_bodies():
    from cascrawl.pipelines.text import TextPipeline

    crawler = get_crawler()
    pipeline = TextPipeline.from_crawler(crawler)
    kept = ItemAdapter(pipeline.process_item(item(text="  第一行 \n\n 第二行  ")))
    assert kept["text"] == "第一行\n第二行"
    empty = ItemAdapter(pipeline.process_item(item(text=None)))
    assert empty["text"] is None
    assert stats_of(crawler, "cascrawl/clean/text/") == {"articles": 2, "lines": 2, "empty_body": 1}


def test_the_boilerplate_step_counts_and_logs_what_it_removed(caplog):
    from cascrawl.pipelines.boilerplate import BoilerplatePipeline

    crawler = get_crawler()
    pipeline = BoilerplatePipeline.from_crawler(crawler)
    with caplog.at_level(logging.DEBUG, logger="cascrawl.pipelines.boilerplate"):
        cleaned = ItemAdapter(pipeline.process_item(item(text="【打印本页】\n正文。\n【关闭窗口】", title="【打印本页】")))
        pipeline.process_item(item(text="正文。"))
    assert cleaned["text"] == "正文。" and cleaned["reject_reason"] == "boilerplate_title"
    assert stats_of(crawler, "cascrawl/clean/boilerplate/") == {"lines_removed": 2, "articles": 1, "titles": 1}
    assert [r.getMessage() for r in caplog.records] == [
        f"boilerplate removed from {URL}: ['【打印本页】', '【关闭窗口】']"]


def test_the_copies_step_counts_glossed_articles():
    from cascrawl.pipelines.copies import ReservedCopyPipeline

    crawler = get_crawler()
    pipeline = ReservedCopyPipeline.from_crawler(crawler)
    glossed = ItemAdapter(pipeline.process_item(item(title="当(dāng)前", text="时(shí)间(jiān)。")))
    pipeline.process_item(item())
    assert (glossed["title"], glossed["text"]) == ("当前", "时间。")
    assert stats_of(crawler, "cascrawl/clean/copies/") == {"glosses_removed": 3, "glossed_articles": 1}


@pytest.mark.parametrize("url, fetched_url", [
    (MIRROR, "http://127.0.0.1:8000/redirected"),  # the item's own URL decides
    (None, MIRROR),  # none yet: the fetched one
    ("", MIRROR),
])
def test_the_copies_step_files_an_article_under_its_canonical_url(url, fetched_url):
    from cascrawl.pipelines.copies import ReservedCopyPipeline

    crawler = get_crawler()
    adapter = ItemAdapter(ReservedCopyPipeline.from_crawler(crawler).process_item(
        item(url=url, fetched_url=fetched_url, docid=None, section=None)))
    assert (adapter["url"], adapter["docid"], adapter["section"], adapter["url_date"]) == (
        URL, 5072001, "syky", date(2025, 6, 10))
    assert crawler.stats.get_value("cascrawl/clean/copies/url_canonicalized") == 1


def test_the_copies_step_keeps_a_url_date_already_set():
    from cascrawl.pipelines.copies import ReservedCopyPipeline

    adapter = ItemAdapter(ReservedCopyPipeline.from_crawler(get_crawler()).process_item(
        item(url=MIRROR, url_date=date(2025, 6, 9))))
    assert (adapter["url"], adapter["url_date"]) == (URL, date(2025, 6, 9))


def test_the_fields_step_counts_each_field_it_changed_and_missing_sources():
    from cascrawl.pipelines.fields import FieldsPipeline

    crawler = get_crawler()
    pipeline = FieldsPipeline.from_crawler(crawler)
    cleaned = ItemAdapter(pipeline.process_item(item(source="来源：新华社", author="张三", editor=None)))
    pipeline.process_item(item(source=None, author="作者：李四"))
    pipeline.process_item(item(source="新华社"))
    assert (cleaned["source"], cleaned["author"], cleaned["editor"]) == ("新华社", "张三", None)
    assert stats_of(crawler, "cascrawl/clean/fields/") == {"source_cleaned": 1, "author_cleaned": 1, "source_null": 1}


def test_a_rejection_is_logged_with_the_url_when_nothing_was_fetched(caplog):
    from cascrawl.pipelines.validate import ValidatePipeline

    with caplog.at_level(logging.WARNING, logger="cascrawl.pipelines.validate"):
        ValidatePipeline.from_crawler(get_crawler()).process_item(item(fetched_url=None, title=""))
    assert [r.getMessage() for r in caplog.records] == [
        f"rejected {URL}: missing_title (no title in meta, page heading or <title>)"]
