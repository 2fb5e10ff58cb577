"""Parsers and decoding on small pages that isolate one case each (the gold pages cover whole layouts)."""

from __future__ import annotations

import pytest

from cascrawl.encoding import decode_html
from cascrawl.parsers import parse_article
from cascrawl.parsers.base import AUTHOR_LABEL, SOURCE_LABEL, labelled_value
from cascrawl.text import html_to_text

URL = "http://127.0.0.1:8000/kj/202310/t20231020_4991234.shtml"
NAV = "<div class='header'><ul class='nav'><li><a href='../../yw/'>院内要闻</a></li><li>主要职责 更多+</li><li>院况简介 更多+</li></ul></div>"
FOOTER = "<div class='footer'><p>© 1996 - 中国科学院 版权所有 京ICP备05002857号-1</p><p>地址：北京市三里河路52号 邮编：100864</p></div>"
PARAGRAPHS = ["近日，物理研究所研究团队实现了六十个超导量子比特的高保真度纠缠。",
              "研究人员表示，这一成果为构建实用化量子计算机奠定了基础。",
              "该研究得到了国家自然科学基金的支持。"]


def page(head: str = "", body: str = "") -> str:
    return f"<html><head><meta charset='utf-8'>{head}</head><body>{NAV}{body}{FOOTER}</body></html>"


# --- decoding ---

GBK_TEXT = "<html><body><p>朱镕基同志视察中国科学院研究所，喆</p></body></html>"


def test_a_gbk_page_without_any_declared_charset_is_detected():
    text, encoding = decode_html(GBK_TEXT.encode("gbk"), "text/html")
    assert (text, encoding) == (GBK_TEXT, "gb18030")


def test_gb2312_declared_in_meta_is_decoded_as_its_superset_gb18030():
    html = "<html><head><meta http-equiv='Content-Type' content='text/html; charset=gb2312'></head><body>镕</body></html>"
    text, encoding = decode_html(html.encode("gbk"), None)  # 镕 is outside GB2312
    assert "镕" in text and encoding == "gb18030"


def test_the_http_header_charset_comes_first():
    html = "<html><head><meta charset='gb2312'></head><body>中国科学院</body></html>"
    assert decode_html(html.encode("utf-8"), b"text/html; charset=utf-8") == (html, "utf-8")


def test_a_header_charset_that_does_not_fit_the_bytes_gives_way_to_detection():
    text, encoding = decode_html(GBK_TEXT.encode("gbk"), "text/html; charset=utf-8")
    assert (text, encoding) == (GBK_TEXT, "gb18030")


# --- labels ---

@pytest.mark.parametrize("text, source", [
    ("来源： 时间：2020-11-22", None),
    ("來源: 時間:2020-11-22", None),
    ("【来源：新华社】 【字号：大 中 小】", "新华社"),
    ("文章来源：科技日报 作者：张三 发布时间：2021-01-02", "科技日报"),
    ("來(lái)源(yuán):中國科學院 時間:2020-11-22", "中國科學院"),
])
def test_source_labels(text, source):
    assert labelled_value(SOURCE_LABEL, text) == source


def test_author_label_does_not_take_the_next_label():
    assert labelled_value(AUTHOR_LABEL, "来源：科技日报 作者：张三 时间：2021-01-02") == "张三"
    assert labelled_value(AUTHOR_LABEL, "作者： 时间：2021-01-02") is None


# --- layouts and the generic path ---

def test_a_page_no_layout_knows_goes_to_the_generic_extractor_and_says_so():
    body = ("<div class='main'><h1>量子计算新突破</h1><p class='info'>来源：物理研究所 时间：2023-10-20</p>"
            "<div class='article-content' id='zoom'>" + "".join(f"<p>\u3000\u3000{p}</p>" for p in PARAGRAPHS) + "</div></div>")
    data = parse_article(page("<meta name='ArticleTitle' content='量子计算新突破'>", body), URL)
    assert data.parser == "generic.density@2" and data.provenance["body"] == "generic:div.main>div#zoom.article-content"
    assert html_to_text(data.body_html) == "\n".join(PARAGRAPHS)
    assert (data.title, data.date_text, data.source) == ("量子计算新突破", "2023-10-20", "物理研究所")


def test_an_old_page_takes_title_date_and_source_from_its_header_region():
    body = ("<table><tr><td class='newtitle'><font size='4'>云南科普活动走进华宁</font></td></tr>"
            "<tr><td>2014年09月22日 <span id='source'>来源：昆明植物研究所</span> 【字号：大 中 小】</td></tr></table>"
            "<div class='TRS_Editor'><p class='MsoNormal'><span>" + PARAGRAPHS[0] + "</span><o:p></o:p></p></div>")
    data = parse_article(page("<title>云南科普活动走进华宁----中国科学院</title>", body), URL)
    assert data.parser == "cas.article.old@2014"
    assert (data.title, data.date_text, data.source) == ("云南科普活动走进华宁", "2014年09月22日", "昆明植物研究所")
    assert html_to_text(data.body_html) == PARAGRAPHS[0]


def test_the_body_fragment_is_sanitized_and_absolute_on_the_canonical_site():
    body = ("<div class='trs_editor_view'><p>正文<script>alert(1)</script></p><iframe src='x'></iframe>"
            "<p><img src='./W020231020.jpg' onerror='x'></p><p>图为实验装置</p><!-- c --></div>")
    data = parse_article(page("<meta name='ArticleTitle' content='t'>", body), URL)
    assert "script" not in data.body_html and "iframe" not in data.body_html and "<!--" not in data.body_html
    assert data.images == [{"url": "https://www.cas.cn/kj/202310/W020231020.jpg", "caption": "图为实验装置"}]


def test_a_bold_subheading_after_an_image_is_not_its_caption():
    body = "<div class='trs_editor_view'><p><img src='./a.jpg'></p><p><strong>一、研究背景</strong></p><p>正文。</p></div>"
    assert parse_article(page("", body), URL).images == [{"url": "https://www.cas.cn/kj/202310/a.jpg", "caption": None}]


def test_attachment_links_after_the_label():
    body = ("<div class='trs_editor_view'><p>正文</p></div>"
            "<div class='fj'><span>附件下载：</span><a href='./P1.pdf'>报告.pdf</a><a href='./P2.docx'>附表.docx</a></div>")
    assert parse_article(page("", body), URL).attachments == [
        {"url": "https://www.cas.cn/kj/202310/P1.pdf", "name": "报告.pdf"},
        {"url": "https://www.cas.cn/kj/202310/P2.docx", "name": "附表.docx"},
    ]


def test_videos_of_the_body_with_their_source_type_and_poster():
    body = ("<div class='trs_editor_view'><p><video src='./V1.mp4' poster='./W1.jpg' controls></video></p>"
            "<p><video></video></p>"  # nothing to play: skipped, and the next ones still read
            "<p><video controls><track src='./V2.vtt'><source src=''><source src='../../v/V2.webm' type='video/webm'>"
            "<source src='./V2.mp4'></video></p><p><video><source src='./V3.mp4'></video></p><p>视频：实验现场</p></div>")
    data = parse_article(page("<meta name='ArticleTitle' content='t'>", body), URL)
    assert data.videos == [
        {"url": "https://www.cas.cn/kj/202310/V1.mp4", "type": None, "poster": "https://www.cas.cn/kj/202310/W1.jpg"},
        {"url": "https://www.cas.cn/v/V2.webm", "type": "video/webm", "poster": None},  # a <source>, not the <track>
        {"url": "https://www.cas.cn/kj/202310/V3.mp4", "type": None, "poster": None},
    ]
    assert "<video" in data.body_html  # kept in the body fragment, unlike scripts and iframes


def test_a_site_page_in_traditional_with_meta_is_not_taken_for_a_copy():
    body = "<div class='xl_title2'><div class='fl_all'>來源：新華社 時間：2020-11-22</div></div><div class='xl_content'><div><div class='TRS_Editor'><p>正文</p></div></div></div>"
    assert parse_article(page("<meta name='ArticleTitle' content='t'>", body), URL).parser == "cas.article.mid@2019"
    assert parse_article(page("", body), URL).parser == "cas.article.copy@2020"


def test_a_heading_that_disagrees_with_the_page_title_loses_to_it():
    body = ("<div class='side'><div class='title'>院内要闻</div></div><p>2015年02月02日</p>"
            "<div class='TRS_Editor'><p>正文</p></div>")
    data = parse_article(page("<title>离退休干部迎春茶话会举行----中国科学院</title>", body), URL)
    assert (data.title, data.provenance["title"]) == ("离退休干部迎春茶话会举行", "dom:<title>")


def test_a_heading_longer_than_a_cut_page_title_wins():
    body = "<h2 class='xl_title'>中国科学院召开2020年度科学数据工作会议</h2><div class='xl_content'><div class='TRS_Editor'><p>正文</p></div></div>"
    data = parse_article(page("<title>中国科学院召开2020年度科学数据…----中国科学院</title>", body), URL)
    assert data.title == "中国科学院召开2020年度科学数据工作会议"


def test_a_date_printed_below_the_body_is_found():
    body = "<div class='TRS_Editor'><p>正文</p></div><div>发布时间：2016-04-20</div>"
    data = parse_article(page("", body), URL)
    assert (data.date_text, data.provenance["date"]) == ("2016-04-20", "dom:page-labelled")
