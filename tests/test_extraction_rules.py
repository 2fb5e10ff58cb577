"""Extraction rules of cascrawl/parsers/ pinned one behaviour at a time: what a parser reads from which
part of a page, what it leaves out, and what it falls back to. Each test states a rule of the parsers
(many were gaps `make mutation` showed); none depends on how a rule is written."""

from __future__ import annotations

import re
from datetime import date

import pytest

from cascrawl.parsers import parse_article
from cascrawl.parsers.article import attachment_links, headings_agree, images_with_captions
from cascrawl.parsers.base import Page, label, visible_text
from cascrawl.parsers.generic import GenericArticle
from cascrawl.parsers.listing import parse_listing

URL = "https://www.cas.cn/syky/202506/t20250610_5072001.shtml"
BASE = "https://www.cas.cn"
LISTING = BASE + "/syky/"


def element(html: str, page_html: str | None = None):
    """The element `<div id="x">…</div>` of a page built around `html`."""
    page = Page(page_html or f'<html><body><div id="x">{html}</div></body></html>', URL)
    return page.root.xpath('//div[@id="x"]')[0], page


# --- labels, page text, head meta (cascrawl/parsers/base.py) ---

@pytest.mark.parametrize("text, matched", [
    ("来源", True), ("時間", True), ("时(shí)间(jiān)", True), ("來（lái）源", True),
    ("时 间", False), ("来", False), ("来源来源", False),
])
def test_a_label_matches_its_words_with_or_without_pinyin_glosses(text, matched):
    pattern = re.compile(label("来源", "來源", "时间", "時間"))
    assert bool(pattern.fullmatch(text)) is matched


def test_a_label_is_one_group_that_can_be_followed_by_a_colon():
    pattern = re.compile(label("来源", "作者") + r"\s*[:：]\s*(?P<value>\S+)")
    assert pattern.search("作(zuò)者(zhě)：张三").group("value") == "张三"
    assert pattern.search("来源：新华社").group("value") == "新华社"


def test_head_meta_names_are_lowercased_first_wins_and_only_meta_elements_count():
    page = Page('<html><head><meta name=" PubDate " content=" 2025-06-10\n 08:00 ">'
                '<meta name="pubdate" content="2020-01-01"><meta content="no name"><meta name="keywords">'
                '</head><body><a name="top">顶部</a><form name="search"></form></body></html>', URL)
    assert page.meta == {"pubdate": "2025-06-10 08:00", "keywords": ""}


@pytest.mark.parametrize("html", ["", "   \n ", "<!-- 只有注释 -->", "\x00\x01", None])
def test_a_page_with_nothing_to_parse_is_an_empty_document(html):
    page = Page(html, URL)
    assert page.root.tag == "html"
    assert page.text_of(page.root) == ""
    assert page.text_before(None) == ""


def test_visible_text_leaves_out_scripts_styles_noscript_and_comments():
    div, _ = element('中国<span>科学院</span><script>var a = "脚本";</script><style>.x{}</style>'
                     '<noscript>无脚本</noscript><!-- 注释 --><b>新闻</b>')
    assert visible_text(div) == "中国 科学院 新闻"
    assert visible_text(div, spaced=False) == "中国科学院新闻"


def test_text_of_passes_the_spacing_on():
    div, page = element("<span>中国</span><span>科学院</span>")
    assert page.text_of(div) == "中国 科学院"
    assert page.text_of(div, spaced=False) == "中国科学院"
    assert page.text_of(None) == ""


def test_the_header_is_the_text_above_the_body_without_scripts_styles_or_comments():
    page = Page('<html><body><h1>标题</h1><script>var s = "脚本";</script><style>.a{}</style>'
                '<noscript>请启用脚本</noscript><!-- 注释 --><p>来源：新华社</p>'
                '<div id="body"><p>正文。作者：王五</p></div></body></html>', URL)
    body = page.root.xpath('//div[@id="body"]')[0]
    assert page.header_text(body) == "标题 来源：新华社"
    assert page.header_text(None) == "标题 来源：新华社 正文。作者：王五"  # no body: the whole page


def test_a_document_without_a_body_has_no_header_text():
    page = Page("<html><head><title>只有标题</title></head></html>", URL)
    if page.first("body") is None:  # lxml adds no <body> to a head-only document
        assert page.text_before(None) == ""


# --- listing pages (cascrawl/parsers/listing.py) ---

def listing(items: str, tail: str = "") -> str:
    return f'<html><body><div id="content"><ul class="gl_list2">{items}</ul></div>{tail}</body></html>'


def test_a_page_without_list_items_is_the_generic_listing_with_no_entries():
    page = parse_listing('<html><body><p><a href="./202506/t20250614_5073157.shtml">孤立链接</a></p></body></html>',
                         LISTING, BASE)
    assert (page.parser, page.entries, page.offsite_links) == ("generic.listing@1", [], 0)


def test_offsite_entries_are_counted_and_their_hosts_listed_once_each():
    page = parse_listing(listing(
        '<li><a href="https://other.example.org/a.shtml">外站</a></li>'
        '<li><a href="https://other.example.org/b.shtml">外站</a></li>'
        '<li><a href="//cdn.example.org:8080/b.shtml">外站</a></li>'
        '<li><a href="http://news.example.org/c.shtml">外站</a></li>'
        '<li><a href="./202506/t20250614_5073157.shtml">本站</a></li>'), LISTING, BASE)
    assert page.offsite_links == 4
    assert page.offsite_hosts == ["other.example.org", "cdn.example.org:8080", "news.example.org"]
    assert len(page.entries) == 1


def test_a_link_title_split_across_inline_tags_is_joined_without_spaces():
    [entry] = parse_listing(listing('<li><a href="./202506/t20250614_5073157.shtml"><span>中国</span><b>科学院</b>'
                                    '<span>新闻</span></a></li>'), LISTING, BASE).entries
    assert entry.title == "中国科学院新闻"


def test_an_entry_date_comes_from_its_spans_before_the_link_text():
    [entry] = parse_listing(listing('<li><a href="./202506/t20250614_5073157.shtml">2024-01-02 回顾</a>'
                                    '<span>2025-06-14</span></li>'), LISTING, BASE).entries
    assert entry.date == date(2025, 6, 14)


def test_a_pager_link_with_a_query_is_kept_without_it():
    page = parse_listing(listing("<li>无</li>", '<a href="index_4.shtml?from=pager">5</a>'), LISTING, BASE)
    assert page.page_links == [LISTING + "index_4.shtml"]


# --- article fields: where each may come from (cascrawl/parsers/article.py) ---

def article(head="", header="", body="<p>正文。</p>", after="", title="页面标题", h1="<h1>页面标题</h1>") -> str:
    return (f"<html><head><title>{title}</title>{head}</head><body>{h1}{header}"
            f'<div class="trs_editor_view">{body}</div>{after}</body></html>')


def test_source_and_author_are_not_taken_from_the_body():
    data = parse_article(article(header="<p>2025-06-09</p>",
                                 body="<p>据新华社报道。</p><p>来源：某期刊</p><p>论文第一作者：王五</p>"), URL)
    assert (data.source, data.author) == (None, None)
    assert "source" not in data.provenance and "author" not in data.provenance


def test_an_author_labelled_above_the_body_without_an_info_line():
    data = parse_article(article(header="<p>2025-06-09 作者：王五</p>"), URL)
    assert data.author == "王五" and data.provenance["author"] == "dom:header-labelled"


def test_an_info_line_below_the_body_gives_the_author():
    data = parse_article(article(header="<p>2025-06-09</p>", after='<div class="detail_info">作者：王五</div>'), URL)
    assert (data.author, data.provenance["author"]) == ("王五", "dom:info-line")


def test_the_editor_is_read_anywhere_on_the_page():
    data = parse_article(article(header="<p>2025-06-09</p>", after="<p>责任编辑：赵六</p>"), URL)
    assert data.editor == "赵六" and data.provenance["editor"] == "dom:page-labelled"


def test_the_labelled_date_of_an_info_line_wins_over_an_earlier_plain_one():
    data = parse_article(article(header='<div class="detail_info">更新 2025-06-01 发布时间：2025-06-09</div>'), URL)
    assert (data.date_text, data.provenance["date"]) == ("2025-06-09", "dom:info-line")


def test_a_script_without_document_write_does_not_hide_the_labelled_source():
    data = parse_article(article(header='<div class="detail_info">来源：物理所<script>var n = 1;</script>'
                                        " 2025-06-09</div>"), URL)
    assert (data.source, data.provenance["source"]) == ("物理所", "dom:info-line")


def test_a_heading_split_across_inline_tags_is_joined_without_spaces():
    data = parse_article(article(title="中国科学院新闻", h1="<h1><span>中国</span><span>科学院</span>新闻</h1>"), URL)
    assert (data.title, data.provenance["title"]) == ("中国科学院新闻", "dom:h1")


def test_a_page_without_heading_or_title_has_no_title():
    data = parse_article(article(title="", h1="", header="<p>2025-06-09</p>"), URL)
    assert data.title is None and "title" not in data.provenance


@pytest.mark.parametrize("heading, head_title, agree", [
    ("页面标题", "页面标题_中国科学院", True),
    ("侧栏标题", "页面标题_中国科学院", False),  # another text of the same length before the separator
    ("页面标题", "页面标题", True),
    ("页面标题很长", "页面标题…", True),
    ("页面标题", "页面标题续", False),  # no separator after the heading
    ("页面标题", "", True),
    ("页面标题", "页面标题丨中国科学院", True),  # the suffixes real sites add
    ("页面标题", "页面标题 - 新华网", True),
    ("页面标题", "页面标题—人民网", True),
    ("页面标题", "页面标题|科学网", True),
    ("页面标题", "页面标题·光明网", True),
    ("页面标题", "页面标题《科技日报》", True),
])
def test_when_a_heading_agrees_with_the_title(heading, head_title, agree):
    assert headings_agree(heading, head_title) is agree


def test_the_body_html_is_an_html_fragment_without_what_follows_the_body():
    data = parse_article(article(header="<p>2025-06-09</p>", body="<p>第一行<br>第二行</p><p><img src='./W1.jpg'></p>")
                         .replace("</div></body>", "</div>页脚文字</body>"), URL)
    # sanitized: the container's class goes too (only the allow-list's attributes stay: cascrawl/sanitize.py)
    assert data.body_html == ('<div><p>第一行<br>第二行</p>'
                              '<p><img src="https://www.cas.cn/syky/202506/W1.jpg"></p></div>')


# --- images and captions ---

W1, W2 = "https://www.cas.cn/syky/202506/W1.jpg", "https://www.cas.cn/syky/202506/W2.jpg"


@pytest.mark.parametrize("html, expected", [
    ('<p><img src="data:image/png;base64,AAA"></p><p><img src="./W1.jpg"></p><p>图注</p>', [(W1, "图注")]),
    ('<figure><img src="./W1.jpg"></figure><p>图注</p>', [(W1, "图注")]),
    ('<a href="./big.jpg"><img src="./W1.jpg"></a><p>图注</p>', [(W1, "图注")]),
    ('<font><img src="./W1.jpg"></font><p>图注</p>', [(W1, "图注")]),
    ('<strong><img src="./W1.jpg"></strong><p>图注</p>', [(W1, "图注")]),
    ('<div><p><img src="./W1.jpg"></p><p>图注</p></div>', [(W1, "图注")]),
    ('<section><div><img src="./W1.jpg"></div><p>图注</p></section>', [(W1, "图注")]),
    ('<section><center><img src="./W1.jpg"></center><p>图注</p></section>', [(W1, "图注")]),
    ('<section><figure><img src="./W1.jpg"></figure><p>图注</p></section>', [(W1, "图注")]),
    ('<section><img src="./W1.jpg"><em>图注</em></section>', [(W1, None)]),  # no block of its own
    ('<p><img src="./W1.jpg"></p><p><img src="./W2.jpg">图二</p>', [(W1, None), (W2, None)]),
    ('<p><img src="./W1.jpg"></p><p><b>二、方法</b></p>', [(W1, None)]),  # a subheading in <b>
    ('<p><img src="./W1.jpg"></p><p><strong>一、 研究</strong> <b>方法 与 结果</b></p>', [(W1, None)]),
    ('<p>这是为什么？</p><p><img src="./W1.jpg"></p>', [(W1, None)]),  # prose running into the image
    ('<p>结果如下：</p><p><img src="./W1.jpg"></p>', [(W1, None)]),
])
def test_image_blocks_and_captions(html, expected):
    body, page = element(html)
    assert [(image["url"], image["caption"]) for image in images_with_captions(body, page)] == expected


# --- attachments ---

P = "https://www.cas.cn/syky/202506/"


@pytest.mark.parametrize("html, expected", [
    ('<div>附件：<a name="top">锚</a><a href="./P1.pdf">附件1</a></div>', [(P + "P1.pdf", "附件1")]),
    ('<script>var a = "附件下载";</script><p>正文</p><div>附件：<a href="./P1.pdf">附件1</a></div>',
     [(P + "P1.pdf", "附件1")]),
    ('<style>/* 附件下载 */</style><p>正文</p><div>附件：<a href="./P1.pdf">附件1</a></div>',
     [(P + "P1.pdf", "附件1")]),
    ('<!-- 附件下载 --><p>正文</p><div>附件：<a href="./P1.pdf">附件1</a></div>', [(P + "P1.pdf", "附件1")]),
])
def test_the_attachment_block_is_the_first_visible_label(html, expected):
    _, page = element(html)
    assert [(link["url"], link["name"]) for link in attachment_links(page)] == expected


def test_a_page_titled_like_an_attachment_label_still_finds_its_attachments():
    page = Page('<html><head><title>附件下载</title><meta name="x" content="y"></head><body>'
                '<p>正文</p><div>附件：<a href="./P1.pdf">附件1</a></div></body></html>', URL)
    assert [link["url"] for link in attachment_links(page)] == [P + "P1.pdf"]


# --- re-served copies (cascrawl/parsers/layouts.py) ---

def test_a_page_with_the_sites_own_meta_is_not_a_copy():
    for meta in ('<meta name="PubDate" content="2025-06-10">', '<meta name="ArticleTitle" content="標題">'):
        data = parse_article(article(head=meta, header="<p>來(lái)源：新華社</p>"), URL)
        assert data.parser == "cas.article.current@2025"


def test_a_copy_is_recognised_by_its_header_not_by_its_body():
    copy = parse_article(article(header="<p>來(lái)源：新華社 時間：2025-06-09</p>"), URL)
    assert copy.parser == "cas.article.copy@2020"
    original = parse_article(article(header="<p>2025-06-09</p>", body="<p>引文：來源：新華社。</p>"), URL)
    assert original.parser == "cas.article.current@2025"


def test_a_glossed_page_without_a_known_body_is_the_generic_parsers():
    data = parse_article("<html><head><title>標題</title></head><body><h1>標題</h1><p>來(lái)源：新華社</p>"
                         "<section><p>" + "這是正文的內容。" * 20 + "</p></section></body></html>", URL)
    assert data.parser == "generic.density@2"


# --- the generic fallback (cascrawl/parsers/generic.py) ---

PROSE = "<p>" + "中国科学院的研究人员在新型材料领域取得重要进展，相关成果发表于国际期刊。" * 3 + "</p>"
UNKNOWN = (f'<html><head><title>一篇陌生页面</title></head><body><div class="nav"><a href="/">首页</a></div>'
           f'<div id="article-x">{PROSE}<p><img src="./W1.jpg" alt="图"></p><p>图为实验装置。</p>'
           "<table><tr><td>样品编号甲</td><td>数值一二三</td></tr><tr><td>样品编号乙</td><td>数值四五六</td></tr></table>"
           f"{PROSE}</div><footer>版权所有</footer></body></html>")


def test_the_generic_parser_keeps_tables_and_images_and_returns_a_fragment():
    data = parse_article(UNKNOWN, URL)
    assert data.provenance["body"] == "generic:div#article-x"
    assert "<td>样品编号乙</td>" in data.body_html and "数值四五六" in data.body_html
    assert data.images == [{"url": W1, "caption": "图为实验装置。"}]
    assert not data.body_html.lstrip().startswith(("<html", "<body"))
    assert "首页" not in data.body_html and "版权所有" not in data.body_html


def test_the_generic_body_is_extracted_once_per_page():
    page, parser = Page(UNKNOWN, URL), GenericArticle()
    first = parser.body_element(page)
    assert first is not None and parser.body_element(page) is first
