"""Media and credit lines on every path: players recorded as videos, a "more videos" block out of the body, editor
lines to `editor`, （原标题：…） lines and the repeated headline out of the text."""

from __future__ import annotations

import pytest
from itemadapter import ItemAdapter
from scrapy.utils.test import get_crawler

from cascrawl.parsers import parse_article
from cascrawl.pipelines.boilerplate import BoilerplatePipeline, credit_line_editor, without_credit_lines

CAS_URL = "https://www.cas.cn/yw/202506/t20250601_5000000.shtml"
GENERIC_URL = "http://news.example.com/a/12345.html"
PROSE = ("<p>这是文章的第一段，讲述了事情的来龙去脉。事情发生在九月。</p>"
         "<p>这是文章的第二段，记者采访了有关人员。他们表示将继续推进。</p>")
MORE_VIDEOS = ("<div class='box'><h3>更多视频</h3><ul><li><a href='/v1'>别的视频一</a><video src='other.mp4'></video></li>"
               "<li><a href='/v2'>别的视频二</a></li></ul></div>")


def page(between: str = "", body: str = PROSE, container: str = "trs_editor_view") -> str:
    return ("<html><head><title>视频新闻标题_某某网</title></head><body><h1>视频新闻标题</h1><p>2025-06-01 来源：某某</p>"
            f"{between}<div class='{container}'>{body}</div><div class='foot'>© 2025 某某网 版权所有</div></body></html>")


@pytest.mark.parametrize("url, container, scheme", [(CAS_URL, "trs_editor_view", "https"), (GENERIC_URL, "article", "http")])
def test_a_player_between_the_headline_and_the_body_is_a_video(url, container, scheme):
    player = "<div class='player'><iframe src='//v.example.com/player.html?vid=1' allowfullscreen></iframe></div>"
    data = parse_article(page(player, container=container), url)
    assert data.videos == [{"url": f"{scheme}://v.example.com/player.html?vid=1", "type": "player", "poster": None}]


def test_players_in_the_body_are_videos_and_adverts_are_not():
    body = (PROSE + "<p><iframe src='https://player.example.com/embed/42'></iframe></p>"
            "<p><iframe src='https://ads.example.com/banner.html'></iframe></p><p><video src='./v.mp4'></video></p>")
    data = parse_article(page(body=body), CAS_URL)
    assert [(v["url"], v["type"]) for v in data.videos] == [
        ("https://player.example.com/embed/42", "player"), ("https://www.cas.cn/yw/202506/v.mp4", None)]


@pytest.mark.parametrize("url, container", [(CAS_URL, "trs_editor_view"), (GENERIC_URL, "article")])
def test_a_more_videos_block_is_not_body_and_its_videos_are_not_the_articles(url, container):
    data = parse_article(page(body=PROSE + "<p><video src='./v.mp4'></video></p>" + MORE_VIDEOS, container=container), url)
    assert "更多视频" not in data.body_html and "别的视频" not in data.body_html
    assert [v["url"].rsplit("/", 1)[-1] for v in data.videos] == ["v.mp4"]


def test_a_related_label_heads_only_the_items_up_to_the_next_prose():
    body = PROSE + "<p>相关新闻：</p><p><a href='/c'>别的新闻</a></p><p>最后一段正文，仍是文章的一部分。</p>"
    data = parse_article(page(body=body), CAS_URL)
    assert "别的新闻" not in data.body_html and "最后一段正文" in data.body_html


@pytest.mark.parametrize("line, editor", [
    ("（责任编辑：王某某）", "王某某"),
    ("(责任编辑: HN666)", "HN666"),
    ("【编辑：姚昊】", "姚昊"),
    ("责编：李四", "李四"),
    ("编辑 刘晓阳 校对 李铭", "刘晓阳"),
    ("本文来源：证券市场红周刊 责任编辑：杨倩_NF4425", "杨倩_NF4425"),
    ("作者：未知 责任编辑：棒棒不是糖", "棒棒不是糖"),
    ("发布日期：2019-03-06 责任编辑：龍慧", "龙慧"),  # matched in Simplified
    ("（責任編輯：王某）", "王某"),
])
def test_credit_lines_name_the_editor(line, editor):
    assert credit_line_editor(line) == editor


@pytest.mark.parametrize("line", [
    "编辑部主任张三表示，刊物将继续改版。",  # a sentence about an editorial office
    "来源：新华社",  # no editor: the info line's business
    "记者 王某",
    "责任编辑在审稿时发现了问题，并及时作了修改，这一做法值得推广到所有的栏目和各个编辑部门。",
])
def test_lines_that_are_not_credit_lines(line):
    assert credit_line_editor(line) is None


def test_original_title_and_repeated_headline_lines_leave_the_text():
    text = "研究所召开年度工作会议\n（原标题：某某研究所召开2019年度工作会议）\n正文第一段。\n研究所召开年度工作会议\n（责任编辑：王某）"
    kept, editor, counts = without_credit_lines(text, "研究所召开年度工作会议")
    assert kept == "正文第一段。\n研究所召开年度工作会议"  # only the first line repeats the headline
    assert editor == "王某"
    assert counts == {"credit_lines": 1, "original_title_lines": 1, "repeated_headline": 1}


def test_a_body_that_is_only_the_headline_keeps_it_and_cleaning_twice_changes_nothing():
    assert without_credit_lines("标题\n标题", "标题")[0] == "标题\n标题"
    once = without_credit_lines("标题\n标题\n正文。", "标题")[0]
    assert once == "正文。" and without_credit_lines(once, "标题")[0] == once


def test_the_boilerplate_pipeline_moves_the_editor_line_to_the_editor():
    pipeline = BoilerplatePipeline.from_crawler(get_crawler())
    item = {"url": CAS_URL, "title": "标题", "text": "正文第一段。\n（责任编辑：赵六）", "editor": None}
    adapter = ItemAdapter(pipeline.process_item(item))
    assert (adapter["text"], adapter["editor"]) == ("正文第一段。", "赵六")
    named = {"url": CAS_URL, "title": "标题", "text": "正文第一段。\n责任编辑：赵六", "editor": "孙七"}
    assert ItemAdapter(pipeline.process_item(named))["editor"] == "孙七"  # the parser's editor stays


def test_the_media_archive_never_fetches_a_player_page(tmp_path):
    from datetime import datetime, timezone

    from cascrawl.items import ArticleItem
    from cascrawl.pipelines.media import MediaArchivePipeline

    crawler = get_crawler(settings_dict={"CASCRAWL_MEDIA_STORE": str(tmp_path), "CASCRAWL_MEDIA_VIDEO": True,
                                         "CASCRAWL_BASE_URL": "https://www.cas.cn"})
    archive = MediaArchivePipeline.from_crawler(crawler)
    article = ArticleItem(url=CAS_URL, fetched_url=CAS_URL, docid=5000000, section="yw", fetched_at=datetime.now(timezone.utc),
                          videos=[{"url": "https://v.example.com/player.html?vid=1", "type": "player", "poster": None},
                                  {"url": "https://www.cas.cn/yw/202506/v.mp4", "type": None, "poster": None}])
    requests = archive.get_media_requests(article, None)
    assert [r.url for r in requests] == ["https://www.cas.cn/yw/202506/v.mp4"]
    assert [(e["url"], e["status"], e["failure"]) for e in article.media if e.get("status")] == [
        ("https://v.example.com/player.html?vid=1", "skipped", "player_page")]


def test_a_related_label_first_in_a_box_with_prose_heads_only_the_items_after_it():
    body = "<div><p>相关新闻：</p><p><a href='/c'>别的新闻</a></p>" + PROSE + "</div>"
    data = parse_article(page(body=body), CAS_URL)
    assert "别的新闻" not in data.body_html and "这是文章的第一段" in data.body_html
