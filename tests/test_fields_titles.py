"""Titles on every path: the heading that agrees with <title>, else <title> without a suffix the page says is
its site's name — never cut at a separator on a guess. Small hand-written pages, parsed by `parse_article`."""

from __future__ import annotations

import pytest

from cascrawl.parsers import parse_article
from cascrawl.parsers.article import title_without_site_name

URL = "http://news.example.com/a/2019/0907/12345.html"  # not www.cas.cn: the generic path
BODY = ("<div class='article'><p>这是文章的第一段，讲述了事情的来龙去脉。事情发生在九月。</p>"
        "<p>这是文章的第二段，记者采访了有关人员。他们表示将继续推进。</p>"
        "<p>这是文章的第三段，说明了后续的安排。相关工作正在进行中。</p></div>")


def page(head_title: str, header: str = "", head: str = "", footer: str = "") -> str:
    return (f"<html><head><title>{head_title}</title>{head}</head><body>{header}{BODY}"
            f"<div class='foot'>{footer}</div></body></html>")


def title_of(html: str, url: str = URL) -> tuple[str | None, str | None]:
    data = parse_article(html, url)
    return data.title, data.provenance.get("title")


def test_the_heading_that_agrees_with_the_title_wins_over_a_one_separator_suffix():
    html = page("多地项目连环爆雷 龙湖集团暗伤曝露？_网易财经",
                "<h3>新闻</h3><h3>财经</h3><h1>多地项目连环爆雷 龙湖集团暗伤曝露？</h1>")
    assert title_of(html) == ("多地项目连环爆雷 龙湖集团暗伤曝露？", "dom:h1")


def test_a_navigation_heading_that_is_only_the_start_of_the_title_does_not_win():
    html = page("棱镜|数据业大整顿：爬虫与现金贷共生共荣_财经_腾讯网",
                "<h3>棱镜</h3><h1>棱镜|数据业大整顿：爬虫与现金贷共生共荣</h1>")
    assert title_of(html)[0] == "棱镜|数据业大整顿：爬虫与现金贷共生共荣"


@pytest.mark.parametrize("header, path", [
    ("<div class='h-title'>法国全国大罢工再次严重影响交通</div>", "dom:div.h-title"),
    ("<span class='Title'>法国全国大罢工再次严重影响交通</span>", "dom:span.Title"),  # class case does not matter
    ("<div class='news-tit'>法国全国大罢工再次严重影响交通</div>", "dom:div.news-tit"),
    ("<table><tr><td class='bt'><b>法国全国大罢工再次严重影响交通</b></td></tr></table>", "dom:b"),  # any element
])
def test_title_like_elements_are_headings_too(header, path):
    assert title_of(page("法国全国大罢工再次严重影响交通-新华网", header)) == ("法国全国大罢工再次严重影响交通", path)


def test_a_heading_after_a_site_prefix_agrees():
    html = page("明日股市预测--最新出炉联合国贸发报告：全球经济增长率降至2.3%",
                "<h1>今日股市行情_明日股市预测</h1><div class='title-text'>最新出炉联合国贸发报告：全球经济增长率降至2.3%</div>")
    assert title_of(html) == ("最新出炉联合国贸发报告：全球经济增长率降至2.3%", "dom:div.title-text")


def test_the_site_name_is_never_the_headline():
    # the logo heading is the site's name: it agrees with the end of <title>, but og:site_name says what it is
    html = page("院士风采_中国科学院官方网站", "<h1>中国科学院官方网站</h1>",
                head="<meta property='og:site_name' content='中国科学院官方网站'>")
    assert title_of(html) == ("院士风采", "dom:<title>-site-name")


def test_a_paragraph_that_opens_with_the_headline_is_not_a_heading():
    html = page("研究所召开年度工作会议", "<p>研究所召开年度工作会议，总结全年工作。</p>")
    assert title_of(html) == ("研究所召开年度工作会议", "dom:<title>")


@pytest.mark.parametrize("head, footer", [
    ("<meta property='og:site_name' content='网易新闻'>", ""),
    ("<meta name='SiteName' content='网易新闻'>", ""),
    ("<meta name='application-name' content='网易新闻'>", ""),
    ("", "© 1997-2019 网易新闻 版权所有"),
    ("", "Copyright © 网易新闻 All Rights Reserved"),
])
def test_with_only_a_title_the_suffix_goes_when_the_page_names_its_site(head, footer):
    assert title_of(page("姚明对周琦说了啥？周琦上下半场判若两人_网易新闻", head=head, footer=footer)) == (
        "姚明对周琦说了啥？周琦上下半场判若两人", "dom:<title>-site-name")


def test_a_suffix_of_column_and_site_goes_as_a_whole():
    assert title_without_site_name("外媒眼中的武汉长假：蓬勃发展，欢声笑语_首页武汉_新闻中心_长江网_cjn.cn", ["长江网"]) == (
        "外媒眼中的武汉长假：蓬勃发展，欢声笑语")


@pytest.mark.parametrize("head_title, names", [
    ("讲座预告_某某大学", []),  # a separator alone proves nothing: no site name given
    ("棱镜|数据业大整顿：爬虫与现金贷共生共荣，用户信息几元不等", ["腾讯网"]),  # the name is not in the title
    ("华为Mate20X 5G版半天不到需充电 耗电制约5G芯片", ["网易新闻"]),  # spaces never separate a suffix
    ("腾讯网|数据业大整顿：爬虫与现金贷共生共荣，用户信息几元不等", ["腾讯网"]),  # a long segment is the headline
])
def test_a_title_is_never_cut_without_the_sites_name_in_its_suffix(head_title, names):
    assert title_without_site_name(head_title, names) == head_title


def test_a_long_tail_after_a_run_of_separators_is_the_headline_not_a_suffix():
    html = page("明日股市预测--最新出炉联合国贸发报告：2019年全球经济增长率降至2.3%")
    assert title_of(html) == ("明日股市预测--最新出炉联合国贸发报告：2019年全球经济增长率降至2.3%", "dom:<title>")


def test_the_cas_suffix_still_goes():
    assert title_of(page("离退休干部迎春茶话会举行----中国科学院"))[0] == "离退休干部迎春茶话会举行"


def test_a_reserved_copy_with_an_unknown_heading_markup_keeps_no_spam_suffix():
    # the origin's body container (TRS_Editor) and Traditional labels: the copy layout; its heading markup is
    # none the layout knows, so the heading is found as on the generic path
    html = ("<html><head><title>讓更多科研成果走出實驗室_某某娛樂官方網站</title></head><body>"
            "<div>當前位置：首頁 &gt;&gt; 訪談</div><div class='news-tit'>讓更多科研成果走出實驗室</div>"
            "<div>時間：2022-03-18</div><div class='TRS_Editor'><p>記者：研究所近年來在成果轉化方面有哪些做法？</p></div>"
            "</body></html>")
    data = parse_article(html, "http://copy.example/zjs/202203/t20220318_4830127.html")
    assert data.parser.startswith("cas.article.copy")
    assert (data.title, data.provenance["title"]) == ("讓更多科研成果走出實驗室", "dom:div.news-tit")


def test_a_heading_between_a_site_prefix_and_a_column_suffix_agrees():
    html = page("某某网 - 研究所召开年度工作会议总结全年工作 - 要闻", "<div class='tit'>研究所召开年度工作会议总结全年工作</div>")
    assert title_of(html) == ("研究所召开年度工作会议总结全年工作", "dom:div.tit")


def test_a_title_that_is_only_the_sites_name_gives_way_to_the_pages_only_h1():
    html = page("某某新闻网", "<h1>研究所召开年度工作会议</h1>", head="<meta property='og:site_name' content='某某新闻网'>")
    assert title_of(html) == ("研究所召开年度工作会议", "dom:h1")


def test_a_bracketed_prefix_before_the_headline_agrees():
    html = page("【组图】研究所召开年度工作会议总结全年工作_某某网", "<div class='tit'>研究所召开年度工作会议总结全年工作</div>")
    assert title_of(html)[0] == "研究所召开年度工作会议总结全年工作"
