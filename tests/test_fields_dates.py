"""Dates on every path: the region between the headline and the body first (a labelled date first), then date
metadata, then what is left — never a date of the lists after the body; a disagreement is said in provenance."""

from __future__ import annotations

from datetime import date

import pytest

from cascrawl.dates import complete_date, dated_text, parse_datetime, parse_with_dateparser, timestamp_text
from cascrawl.parsers import parse_article

from tests.test_fields_titles import BODY

URL = "http://news.example.com/a/12345.html"  # no date in the URL, not www.cas.cn: the generic path
RELATED = ("<div class='related'><h3>相关新闻</h3><ul><li><a href='/1'>别的新闻一</a> 发布时间：2019-09-09</li>"
           "<li><a href='/2'>别的新闻二</a> 2019-09-10 08:00</li></ul></div>")


def page(header: str = "", head: str = "", after: str = RELATED, title: str = "研究所召开年度工作会议_某某网",
         body: str = BODY) -> str:
    return (f"<html><head><title>{title}</title>{head}</head><body><h1>研究所召开年度工作会议</h1>"
            f"{header}{body}{after}</body></html>")


def date_of(html: str, url: str = URL) -> tuple[str | None, str | None]:
    data = parse_article(html, url)
    return data.date_text, data.provenance.get("date")


def test_the_date_under_the_headline_wins_over_the_related_list_after_the_body():
    assert date_of(page("<div class='info'>2019-09-07 13:43 来源：新京报</div>")) == ("2019-09-07 13:43", "dom:header-date")


def test_a_labelled_date_comes_first_in_the_region():
    html = page("<div>分享到 9 23 最后更新: 2019-09-08 10:00 发布时间：2019-09-07 15:10</div>")
    assert date_of(html) == ("2019-09-07 15:10", "dom:header-labelled")


def test_a_date_inside_a_sentence_under_the_headline_is_not_the_pages_date():
    # the region holds only 2019年2月27日下午，… (prose); the labelled date under the body is the page's
    html = page("<div>来源于： 东区办事处</div>", after="<div>发布日期：2019-03-06</div>" + RELATED,
                body="<div class='article'><p>2019年2月27日下午，调研组一行走访了金融街。大家进行了座谈。</p>"
                     "<p>会上，领导分别介绍了发展情况。调研组也介绍了情况。</p></div>")
    assert date_of(html) == ("2019-03-06", "dom:page-labelled")


def test_labelled_dates_in_lists_after_the_body_are_never_read():
    assert date_of(page()) == (None, None)


def test_split_spans_give_one_date():
    html = page("<div><span>2019</span> <span>09</span>/<span>07</span> <span>19</span>:<span>02</span> 扬眼</div>")
    assert date_of(html) == ("2019-09-07 19:02", "dom:header-date")


@pytest.mark.parametrize("head, path", [
    ("<meta property='article:published_time' content='2019-09-07T13:43:45+08:00'>", "meta:article:published_time"),
    ("<meta name='publishdate' content='2019-09-07'>", "meta:publishdate"),
    ("<meta name='firstpublishedtime' content='2019-09-07 13:43:45'>", "meta:firstpublishedtime"),
    ("<meta itemprop='datePublished' content='2019-09-07'>", "meta:datePublished"),
    ('<script type="application/ld+json">{"@graph": [{"@type": "NewsArticle", "datePublished": "2019-09-07T13:43"}]}'
     "</script>", "meta:json-ld:datePublished"),
])
def test_date_metadata_when_the_region_has_no_date(head, path):
    found, provenance = date_of(page(head=head))
    assert parse_datetime(found)[0].date() == date(2019, 9, 7) and provenance == path


def test_a_time_element_is_metadata():
    found = date_of(page("<div><time datetime='2019-09-07T08:00:00+08:00'>昨天</time></div>"))
    assert found == ("2019-09-07T08:00:00+08:00", "meta:<time datetime>")


def test_a_disagreement_over_a_day_says_which_source_won_and_why():
    data = parse_article(page("<div>发布时间：2019-09-07</div>",
                              head="<meta property='article:published_time' content='2019-09-01T10:00:00+08:00'>"), URL)
    assert data.date_text == "2019-09-07"
    assert data.provenance["date_disagreement"] == (
        "dom:header-labelled 2019-09-07 over meta:article:published_time 2019-09-01: "
        "the date the page shows with its headline wins over its metadata")


def test_a_day_apart_is_no_disagreement_and_the_same_day_with_a_time_takes_the_metadata():
    near = parse_article(page("<div>发布时间：2019-09-07</div>",
                              head="<meta property='article:published_time' content='2019-09-06T23:00:00+08:00'>"), URL)
    assert near.date_text == "2019-09-07" and "date_disagreement" not in near.provenance
    same = parse_article(page("<div>发布时间：2019-09-07</div>", head="<meta name='PubDate' content='2019-09-07 17:05'>"),
                         URL)
    assert (same.date_text, same.provenance["date"], same.date_origin) == ("2019-09-07 17:05", "meta:PubDate", "meta")


def test_a_date_shown_without_its_year_takes_it_from_the_pages_own_dates():
    html = page("<div>加拿大必读 发布时间：10-08 12:00 优质原创作者</div>",
                head="<meta name='dateUpdate' content='2019-10-08 12:00:57'>")
    assert date_of(html) == ("2019-10-08 12:00", "dom:header-labelled-partial")


def test_a_two_digit_year_is_this_century():
    assert date_of(page("<div>发布时间：18-03-08 23:16</div>"))[0] == "2018-03-08 23:16"


def test_a_script_variable_is_the_last_resort():
    html = page("<div>爱否科技 昨天</div>", after='<script>var nickname = "某号"; var ct = "1581517074";</script>')
    assert date_of(html) == ("2020-02-12 22:17:54", "script:ct")
    json_like = page(after='<script>window.DATA = {"publish_time": "2020-02-11 18:47"};</script>')
    assert date_of(json_like) == ("2020-02-11 18:47", "script:publish_time")


def test_a_number_that_is_not_a_publish_time_variable_is_not_read():
    html = page(after='<script>var createTimeAccLevel = "1581517074"; var t = "1581604666";</script>')
    assert date_of(html) == (None, None)


@pytest.mark.parametrize("partial, references, url_date, expected", [
    ("10-08 12:00", ["2019-12-29 22:31:02"], None, "2019-10-08 12:00"),  # before the page was served: same year
    ("01-14 17:58", ["2020-02-29 21:12:16"], None, "2020-01-14 17:58"),
    ("12-30", ["2020-02-29"], None, "2019-12-30"),  # after the newest reference: the year before
    ("09-30 22:46", ["2019-12-29", "2018-09-30 22:46:13"], None, "2018-09-30 22:46"),  # a same-day reference decides
    ("06-01", [], date(2021, 6, 2), "2021-06-01"),  # only the URL's date
    ("06-01", [], None, None),  # nothing tells the year
    ("02-30", ["2020-03-01"], None, None),
])
def test_completing_a_date_without_its_year(partial, references, url_date, expected):
    assert complete_date(partial, references, url_date) == expected


def test_dated_text_and_timestamps():
    assert dated_text("2019 09 / 07 19 : 02") == "2019-09-07 19:02"
    assert dated_text("2019-09-07 13:43") == "2019-09-07 13:43"
    assert timestamp_text(1581418070) == "2020-02-11 18:47:50"


@pytest.mark.parametrize("text", ["2019-09-07T13:43:45+08:00", "2019-09-07T09:27:48", "2020-02-12T14:17:00Z",
                                  "2019-09-07T23:30:00-04:00"])
def test_iso_metadata_dates_read_directly_as_dateparser_reads_them(text):
    assert parse_datetime(text) == parse_with_dateparser(text)


@pytest.mark.parametrize("header, expected", [
    ("<div>2019-09-07来源：新京报</div>", "2019-09-07"),  # a label right after it
    ("<div>2019年09月07日14:30</div>", "2019年09月07日14:30"),  # a time of day: an info line
])
def test_a_date_before_a_label_or_with_a_time_is_the_info_lines(header, expected):
    assert date_of(page(header)) == (expected, "dom:header-date")


def test_on_a_cas_layout_with_an_unknown_info_line_the_related_list_under_the_body_is_not_the_date():
    html = ("<html><head><title>研究所召开年度工作会议----中国科学院</title></head><body><div class='detail_title'>"
            "<h1>研究所召开年度工作会议</h1></div><div class='article-meta'><span>发布时间：2025-06-03</span></div>"
            "<div class='trs_editor_view'><p>会议总结了全年工作。</p></div><div class='xgxw'><h3>相关新闻</h3><ul>"
            "<li><a href='./202506/t20250609_1.shtml'>另一篇</a><span>2025-06-09</span></li></ul></div></body></html>")
    data = parse_article(html, "https://www.cas.cn/yx/202506/t20250604_5070000.shtml")
    assert data.parser.startswith("cas.article.current")
    assert (data.date_text, data.provenance["date"]) == ("2025-06-03", "dom:header-labelled")


def test_the_publication_label_wins_over_an_update_time():
    html = page("<div>更新时间：2019-09-08 10:00 发布时间：2019-09-07 09:00</div>")
    assert date_of(html) == ("2019-09-07 09:00", "dom:header-labelled")
    assert date_of(page("<div>修改时间：2019-09-08 时间：2019-09-07</div>")) == ("2019-09-07", "dom:header-labelled")
