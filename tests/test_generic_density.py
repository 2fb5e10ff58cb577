"""The generic path's body choice (cascrawl/parsers/density.py), its structural pruning (pruning.py) and the
container it hands to the field rules (generic.py), on small hand-written pages."""

from __future__ import annotations

import lxml.html

from cascrawl.parsers import parse_article
from cascrawl.parsers.base import Page, parse_document
from cascrawl.parsers.density import best_container, measure
from cascrawl.parsers.generic import GenericArticle, article_container
from cascrawl.parsers.pruning import prune
from cascrawl.text import html_to_text

URL = "http://news.example/2020/a.html"
SENTENCE = "研究人员在新型材料领域取得重要进展，相关成果发表于国际期刊。"
NAV = "<ul>" + "".join(f"<li><a href='/{i}'>栏目{i}</a></li>" for i in range(12)) + "</ul>"


def _choose(html: str):
    root = lxml.html.document_fromstring(html)
    return best_container(measure(root))


def _article(n: int, **attrs) -> str:
    extra = "".join(f" {k}='{v}'" for k, v in attrs.items())
    return f"<div{extra}>" + "".join(f"<p>{SENTENCE}{i}</p>" for i in range(n)) + "</div>"


def test_the_container_of_several_paragraphs_wins_over_its_longest_paragraph():
    body = _article(5, id="story").replace(f"{SENTENCE}0", SENTENCE * 3)
    chosen = _choose(f"<html><body>{NAV}{body}</body></html>")
    assert chosen.get("id") == "story"


def test_a_list_of_links_is_not_prose_however_long_its_items():
    related = "<ul>" + "".join(f"<li><a href='/r{i}'>{SENTENCE}{i}</a></li>" for i in range(10)) + "</ul>"
    chosen = _choose(f"<html><body><div id='wrap'>{_article(3, id='story')}{related}</div></body></html>")
    assert chosen.get("id") == "story"


def test_comments_with_author_links_are_records_not_the_article():
    comments = "<div id='comments'>" + "".join(
        f"<div class='c'><a href='/u{i}'>网友{i}</a><span>2020-01-0{i}</span><p>{SENTENCE * 2}</p></div>" for i in range(6)
    ) + "</div>"
    chosen = _choose(f"<html><body><div id='wrap'>{_article(3, id='story')}{comments}</div></body></html>")
    assert chosen.get("id") == "story"


def test_like_paragraphs_without_links_are_an_article_not_a_list_of_records():
    sections = "<div id='story'>" + "".join(f"<section class='s'><span>{SENTENCE}</span><span>{i}</span></section>"
                                             for i in range(6)) + "</div>"
    chosen = _choose(f"<html><body>{NAV}{sections}</body></html>")
    assert chosen.get("id") == "story"


def test_hidden_text_does_not_count():
    hidden = f"<div style='display: none'>{SENTENCE * 30}</div>"
    chosen = _choose(f"<html><body>{hidden}{_article(2, id='story')}</body></html>")
    assert chosen.get("id") == "story"


def test_prose_far_after_the_headline_loses_to_a_short_article_next_to_it():
    footer = f"<div id='footer'>{SENTENCE * 4}</div>"
    html = (f"<html><head><title>标题一则_某网</title></head><body><h1>标题一则</h1>{_article(2, id='story')}"
            f"{NAV * 12}{footer}</body></html>")
    assert _choose(html).get("id") == "footer"  # by prose alone, the footer would win
    page = Page(html, URL)
    assert article_container(page).get("id") == "story"


def test_pruning_removes_link_blocks_and_record_lists_and_keeps_paragraphs_with_a_link():
    html = ("<html><body><div id='story'>"
            f"<p>{SENTENCE}<a href='/x'>链接</a>{SENTENCE}</p><p>详见<a href='/n'>《关于开展某项工作的通知》</a>。</p>"
            "<table><tr><td>样品编号甲</td><td>数值一二三</td></tr><tr><td>样品编号乙</td><td>数值四五六</td></tr></table>"
            "<div><a href='/1'>上一篇</a> <a href='/2'>下一篇</a></div>"
            "<ul>" + "".join(f"<li><a href='/r{i}'>相关{i}</a>：{SENTENCE}</li>" for i in range(4)) + "</ul>"
            f"<p>{SENTENCE}</p></div></body></html>")
    root = lxml.html.document_fromstring(html)
    container = root.get_element_by_id("story")
    removed = prune(container, measure(root))
    text = html_to_text(lxml.html.tostring(container, encoding="unicode"))
    assert "上一篇" not in text and "相关0" not in text and len(removed) == 5
    assert "链接" in text and "《关于开展某项工作的通知》" in text and "数值四五六" in text and text.count(SENTENCE) == 3


def test_a_container_holding_the_headline_gives_the_body_after_the_header():
    html = (f"<html><head><title>标题一则</title></head><body>{NAV}<div id='main'><h1>标题一则</h1>"
            f"<div class='meta'>时间：2020-01-02 来源：某报</div>"
            + "".join(f"<p>{SENTENCE}{i}</p>" for i in range(4)) + "</div></body></html>")
    page = Page(html, URL)
    body = GenericArticle().body_element(page)
    assert body.getroottree().getroot() is page.root
    assert "2020-01-02" in page.text_before(body) and "标题一则" in page.text_before(body)
    assert html_to_text(lxml.html.tostring(body, encoding="unicode")).splitlines() == [f"{SENTENCE}{i}" for i in range(4)]
    data = parse_article(html, URL)
    assert data.date_text == "2020-01-02" and data.provenance["body"] == "generic:div#main>div"


def test_the_provenance_names_the_container_by_tag_id_and_first_class():
    html = (f"<html><head><title>标题一则</title></head><body>{NAV}<div id='main'><h1>标题一则</h1>"
            f"<div class='article-content big'>{_article(3)}</div></div></body></html>")
    data = parse_article(html, URL)
    assert data.parser == "generic.density@2"
    assert data.provenance["body"] == "generic:div#main>div.article-content>div"


def test_a_page_of_two_documents_keeps_the_article_of_the_second():
    header = f"<!DOCTYPE html><html><head><title>某网</title></head><body><div id='top'>{NAV}</div></body></html>\n"
    article = (f"<!DOCTYPE html><html><head><title>标题一则_某网</title></head><body><h1>标题一则</h1>"
               f"{_article(3, id='story')}</body></html>")
    root = parse_document(header + article)
    assert [e.get("id") for e in root.find("body")] == ["top", None, "story"]  # both bodies, in order
    assert root.find("head/title").text == "标题一则_某网"  # the article's head first
    data = parse_article(header + article, URL)
    assert html_to_text(data.body_html).splitlines() == [f"{SENTENCE}{i}" for i in range(3)]


def test_a_single_document_is_parsed_as_before():
    for trailer in ("<!-- 注释 -->", "\n<script>var tracker = 1;</script>"):
        root = parse_document(f"<html><body class='page'><p>正文</p></body></html>{trailer}")
        assert [e.tag for e in root.find("body")] == ["p"] and root.find("body").get("class") == "page"


def test_an_article_set_in_a_layout_table_keeps_its_paragraphs_and_a_data_table_its_rows():
    data_table = "<table><tr><td>样品甲</td><td>数值一</td></tr><tr><td>样品乙</td><td>数值二</td></tr></table>"
    html = (f"<html><body>{NAV}<table><tr><td>" + "".join(f"<p>{SENTENCE}{i}</p>" for i in range(3))
            + f"{data_table}</td></tr></table></body></html>")
    data = parse_article(html, URL)
    assert html_to_text(data.body_html).splitlines() == [f"{SENTENCE}{i}" for i in range(3)] + ["样品甲 数值一", "样品乙 数值二"]


def test_closing_lines_go_and_a_notices_signature_and_date_stay():
    html = ("<html><body><div id='story'>" + "".join(f"<p>{SENTENCE}{i}</p>" for i in range(3))
            + "<p>中国科学院办公厅</p><p>2020年1月2日</p>"
            "<div>发布日期：2020-01-02 责任编辑：某某</div><div><a href='javascript:print()'>打印本页</a></div><p> </p>"
            "</div></body></html>")
    root = lxml.html.document_fromstring(html)
    container = root.get_element_by_id("story")
    prune(container, measure(root))
    assert html_to_text(lxml.html.tostring(container, encoding="unicode")).splitlines()[-2:] == ["中国科学院办公厅", "2020年1月2日"]


def test_a_caption_under_the_last_picture_stays():
    html = ("<html><body><div id='story'>" + "".join(f"<p>{SENTENCE}{i}</p>" for i in range(3))
            + "<p><img src='/a.jpg'></p><p>图片来源：某某摄</p></div></body></html>")
    root = lxml.html.document_fromstring(html)
    container = root.get_element_by_id("story")
    prune(container, measure(root))
    assert html_to_text(lxml.html.tostring(container, encoding="unicode")).splitlines()[-1] == "图片来源：某某摄"


VIDEO_PAGE = (f"<html><head><title>视频新闻标题_某网</title></head><body>{NAV}<div class='x'><h1>视频新闻标题</h1>"
              "<div class='info'>时间：2024-01-02</div>{between}<p>这是视频的说明文字，介绍了研究进展。</p></div>"
              "<div><h3>更多视频</h3><ul><li><a href='/1'>另一个视频一</a></li><li><a href='/2'>另一个视频二</a></li>"
              "<li><a href='/3'>另一个视频三</a></li></ul></div></body></html>")


def test_a_video_story_keeps_its_player_between_the_header_and_the_caption():
    html = VIDEO_PAGE.replace("{between}", "<div class='player'><video src='/v/a.mp4' poster='/v/a.jpg'></video></div>")
    data = parse_article(html, URL)
    assert [v["url"] for v in data.videos] == ["http://news.example/v/a.mp4"]
    assert html_to_text(data.body_html) == "这是视频的说明文字，介绍了研究进展。" and data.date_text == "2024-01-02"


def test_a_bar_of_icons_and_an_inline_qr_code_above_the_text_are_not_a_picture():
    between = ("<div><a href='/s1'><img src='/i/wx.png' width='16' height='16'></a>"
               "<img src='data:image/png;base64,AAAA'>分享</div>")
    data = parse_article(VIDEO_PAGE.replace("{between}", between), URL)
    assert html_to_text(data.body_html) == "这是视频的说明文字，介绍了研究进展。" and data.images == []


def test_like_paragraphs_with_a_link_inside_a_sentence_are_the_article_not_records():
    paragraphs = "".join(f"<div class='para'>{SENTENCE}据<a href='/s{i}'>某公司</a>公告，{SENTENCE}</div>" for i in range(5))
    html = f"<html><head><title>标题一则</title></head><body>{NAV}<h1>标题一则</h1><div id='story'>{paragraphs}</div></body></html>"
    data = parse_article(html, URL)
    assert data.provenance["body"] == "generic:div#story" and len(html_to_text(data.body_html).splitlines()) == 5


def test_a_video_page_of_an_unknown_layout_records_the_video_and_drops_more_videos():
    more = "".join(f"<li><a href='/v{i}.html'><img src='/v{i}.jpg'><p>另一个视频的标题第{i}条</p></a></li>" for i in range(2))
    html = (f"<html><head><title>视频新闻标题----中国科学院</title></head><body>{NAV}<div class='xl'>"
            "<h1>视频新闻标题</h1><div class='info'>来源：某所 发布时间：2024-01-02</div>"
            "<div class='v'><video><source src='/v/a.mp4' type='video/mp4'></video></div>"
            "<div class='c'><p>这是视频的说明文字，介绍了研究进展。</p></div>"
            f"<div class='m'><h3>更多视频</h3><ul>{more}</ul></div></div><div>版权所有 中国科学院</div></body></html>")
    data = parse_article(html, URL)
    assert data.videos == [{"url": "http://news.example/v/a.mp4", "type": "video/mp4", "poster": None}]
    assert html_to_text(data.body_html) == "这是视频的说明文字，介绍了研究进展。" and data.images == []
    assert data.date_text == "2024-01-02" and data.title == "视频新闻标题"


def test_a_picture_story_keeps_its_captions_and_the_editor_line_it_leaves_out_of_the_body():
    pictures = "".join(f"<p><img src='/p/{i}.jpg'></p><p>图{i}：科研人员在实验室开展实验</p>" for i in range(3))
    related = "<div><h3>相关新闻</h3><ul>" + "".join(
        f"<li><a href='/n{i}'>相关新闻的标题第{i}条</a><span>2023-0{i + 1}-01</span></li>" for i in range(5)) + "</ul></div>"
    html = (f"<html><head><title>组图：某研究所开放日----中国科学院</title></head><body>{NAV}<div class='main'>"
            "<div class='art'><h2>组图：某研究所开放日</h2><p>2024-05-20 来源：某研究所</p>"
            f"<div class='body'>{pictures}<p>5月18日，某研究所举办公众科学日活动，吸引了众多市民参观。</p></div>"
            "<div>责任编辑：张三</div><div><p>上一篇：<a href='/a'>前一篇文章的标题</a></p><p>下一篇：<a href='/b'>后一篇</a></p></div>"
            f"<div><a href='javascript:print()'>打印本页</a> <a href='javascript:close()'>关闭窗口</a></div></div>{related}</div>"
            "<div>版权所有 中国科学院</div></body></html>")
    data = parse_article(html, URL)
    assert html_to_text(data.body_html).splitlines() == [f"图{i}：科研人员在实验室开展实验" for i in range(3)] + [
        "5月18日，某研究所举办公众科学日活动，吸引了众多市民参观。"]
    assert [image["caption"] for image in data.images] == [f"图{i}：科研人员在实验室开展实验" for i in range(3)]
    assert (data.title, data.date_text, data.source, data.editor) == ("组图：某研究所开放日", "2024-05-20", "某研究所", "张三")
