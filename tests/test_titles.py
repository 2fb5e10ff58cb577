"""Titles of re-served copies: a `<title>` that is the page heading plus a suffix never keeps the suffix.

The whole chain (parser and the cleaning pipelines) on small pages: the heading is glossed
Traditional, the `<title>` is written another way (no glosses, other spacing, full-width forms)."""

from __future__ import annotations

import pytest
from itemadapter import ItemAdapter
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from cascrawl.parsers import parse_article
from cascrawl.parsers.article import headings_agree
from cascrawl.pipelines import cleaning_pipelines
from cascrawl.single_page import callback_items
from cascrawl.spiders.cas_news import CasNewsSpider

URL = "http://127.0.0.1:8000/zjs/202203/t20220318_4830127.shtml"
HEADING = "讓(ràng)更多科研成果走出實(shí)驗(yàn)室——訪(fǎng)中國(guó)科學(xué)院研究所所長(zhǎng)李某某"
CLEAN = "让更多科研成果走出实验室——访中国科学院研究所所长李某某"


def copy_page(head_title: str, heading: str = HEADING) -> str:
    return (f"<html><head><meta charset='utf-8'><title>{head_title}</title></head><body>"
            "<div class='dqwz'>當(dāng)前位置:首頁 &gt;&gt; 訪談·視點</div>"
            f"<div class='xl'><h2 class='xl_title'>{heading}</h2>"
            "<div class='xl_title2'><div class='fl_all'><span>來源:</span> <span>時間:2022-03-18</span></div></div>"
            "<div class='xl_content'><div><div class='TRS_Editor'><p>記者:研究所近年來在成果轉化方面有哪些做法?</p>"
            "</div></div></div></div></body></html>")


@pytest.fixture(scope="module")
def stored_title():
    crawler = get_crawler(CasNewsSpider, {"CASCRAWL_BASE_URL": "http://127.0.0.1:8000"})
    crawler.spider = spider = CasNewsSpider.from_crawler(crawler)
    pipelines = cleaning_pipelines(crawler)

    def run(html: str) -> str:
        (item,) = callback_items(spider.fetch_article(HtmlResponse(URL, body=html.encode("utf-8")), section="zjs"))
        for pipeline in pipelines:
            item = pipeline.process_item(item)
        adapter = ItemAdapter(item)
        assert adapter["reject_reason"] is None, adapter["reject_detail"]
        return adapter["title"]

    return run


@pytest.mark.parametrize("head_title", [
    "讓更多科研成果走出實驗室——訪中國科學院研究所所長李某某_鴻運國際娛樂城【官方網站】",  # one `_`, unglossed
    "讓(ràng)更多科研成果走出實(shí)驗(yàn)室——訪(fǎng)中國(guó)科學(xué)院研究所所長(zhǎng)李某某_ＸＸ棋牌",
    "让更多科研成果走出实验室——访中国科学院研究所所长李某某 | 某某资讯网",  # the copier simplified it
    "讓更多科研成果走出實驗室——訪中國科學院研究所所長李某某－新聞中心－某某網",  # full-width hyphens
    "讓更多科研成果走出實驗室——訪中國科學院研究所所長李某某丨某某號",
    "讓更多科研成果走出實驗室——訪中國科學院研究所所長李某某----中國科學(xué)院",  # the site's own suffix
    "讓更多科研成果走出實驗室——訪中國科學院研究所所長李某某",
    "讓更多科研成果走出實驗…",  # cut short
])
def test_the_heading_wins_over_a_title_with_any_suffix(stored_title, head_title):
    assert stored_title(copy_page(head_title)) == CLEAN


def test_a_heading_that_is_not_the_article_still_loses_to_the_title(stored_title):
    # a box title caught by the heading selector: the <title> is the page's own
    assert stored_title(copy_page("研究所所長談成果轉化_某某網", heading="訪談·視點")) == "研究所所长谈成果转化_某某网"


def test_agreement_needs_a_separator_after_the_heading():
    assert headings_agree("院内要闻", "院内要闻_中国科学院")
    assert not headings_agree("院内要闻", "院内要闻会议召开")  # a longer title that merely starts alike
    assert not headings_agree("要闻", "院内要闻_中国科学院")
    assert headings_agree("標(biāo)題(tí)", "标题_某站")  # glosses and script do not matter
    assert not headings_agree("標(biāo)題(tí)", "标题某站")
    assert headings_agree("任何标题", "")  # an empty <title> contradicts nothing


def test_odd_titles_of_the_site_itself_stay_verbatim():
    html = ("<html><head><meta name='ArticleTitle' content=\"&lt;b&gt;x&lt;/b&gt;'; DROP TABLE articles;--\">"
            "<title>别的标题_站</title></head><body><div class='trs_editor_view'><p>正文</p></div></body></html>")
    assert parse_article(html, URL).title == "<b>x</b>'; DROP TABLE articles;--"
