"""Boilerplate lines: the default patterns (settings), Traditional and glossed forms, operator extensions."""

from __future__ import annotations

import lxml.html
import pytest

import cascrawl.settings as project
from cascrawl.encoding import decode_html
from cascrawl.boilerplate import BoilerplateError, BoilerplateFilter, matching_key, parse_patterns
from cascrawl.text import detect_script, html_to_text, remove_pinyin_glosses, to_simplified

from .conftest import expected_articles

DEFAULT = BoilerplateFilter(project.CASCRAWL_BOILERPLATE_PATTERNS)

BOILERPLATE = [
    # breadcrumb
    "当前位置：首页 >> 工作动态",
    "当前位置：首页>>党建与创新文化>>工作动态",
    "當(dāng)前位置:首頁 >> 工作動態(tài)",
    "您现在的位置：首页 > 新闻 > 科研进展",
    # the info line, with and without spaces between its spans
    "来源： 时间：2020-11-20",
    "來源: 時間:2020-11-22",
    "来源：科技日报作者：张某某时间：2025-01-21 08:45【字号：大 中 小】",
    "来源：新华社时间：2024-12-10 11:20【字号：大 中 小】",
    "发布时间：2021-03-10 来源：上海分院 浏览次数：",
    "时间：2020年11月22日 17:30",
    # widgets
    "【字号：大 中 小】",
    "打印本页 关闭窗口",
    "【打印】【关闭】",
    "语音播报",
    "扫一扫在手机打开当前页",
    "附件下载",
    "附件下載：",
    # the header and mega-menu, should they leak
    "首页 | English | 网站地图 | 联系我们 | 加入收藏",
    "更多+",
    "院況簡介",
    # footers, as on the fixture pages, in the seed and in other forms
    "© 1996 - 中国科学院 版权所有 京ICP备05002857号-1 京公网安备110402500047号 网站标识码bm48000017",
    "© 1996 - 中國科學(xué)院 版權(quán)所有 京ICP備05002857號-1 京公網(wǎng)安備110402500047號",
    "網(wǎng)站標(biāo)識碼bm48000017",
    "地址:北京市三里河路52號 郵編:100864",
    "地址：北京市西城区三里河路52号 邮编：100864",
    "电话：86 10 68597114（总机） 86 10 68597289（总值班室） 编辑部邮箱：casweb@cashq.ac.cn",
    "© 1996 - 中国科学院 版权所有",
    "京ICP备05002857号-1 京公网安备110402500047号",
    "网站标识码bm48000017 地址：北京市三里河路52号 邮编：100864",
    "Copyright © 2002-2025 中国科学院 All Rights Reserved",
    "版权所有：中国科学院 | 京ICP备05002857号-1",
    "地址：北京市三里河路５２号　邮编：１００８６４",  # full-width digits and ideographic space
]

PROSE = [
    "该软件的版权所有者为中国科学院软件研究所。",
    "研究所新址位于怀柔科学城，地址：北京市怀柔区，欢迎来访。",
    "地址变更后，邮编：100049 不变。",
    "来源：本文据新华社报道整理，有删改。",
    "时间：2020年11月22日，地点：北京。",
    "当前位置：首页，是网站导航的一部分，说明如下。",
    "作者：张某某",  # a byline without 来源 or 时间 is not the info line
    "原文链接：https://doi.org/10.1029/2025GL000000",
    "©新华社",  # a photo credit: © without a year or 版权所有
    "工作动态",
    "科技奖励",  # a menu label, but also a plausible subheading
    "12月9日，“实验6”号科考船停靠在广州南沙的码头。新华社记者李某摄",
    "附件：实施方案.pdf",
]


@pytest.mark.parametrize("line", BOILERPLATE)
def test_wholly_boilerplate_lines_are_recognized(line):
    assert DEFAULT.is_boilerplate(line)


@pytest.mark.parametrize("line", PROSE)
def test_prose_that_mentions_boilerplate_words_is_not_boilerplate(line):
    assert not DEFAULT.is_boilerplate(line)


def test_split_keeps_order_and_returns_what_it_removed():
    text = "\n".join(["当前位置：首页 >> 工作动态", "第一段。", "语音播报", "第二段。", "邮编：100864"])
    assert DEFAULT.split(text) == ("第一段。\n第二段。", ["当前位置：首页 >> 工作动态", "语音播报", "邮编：100864"])


def test_the_matching_key_unglosses_simplifies_and_folds_width():
    assert matching_key("郵(yóu)編：１００８６４") == "邮编:100864"


def test_an_overlong_line_is_never_boilerplate():
    assert not DEFAULT.is_boilerplate("邮编：100864 " * 40)


def test_operators_extend_the_patterns_as_a_list_or_a_json_string():
    assert parse_patterns(["责任校对[:：]\\S+", " "]) == ["责任校对[:：]\\S+"]
    assert parse_patterns('["责任校对[:：]\\\\S+", "本页，共\\\\d+页"]') == ["责任校对[:：]\\S+", "本页，共\\d+页"]
    assert parse_patterns("责任校对[:：]\\S+\n点击排行") == ["责任校对[:：]\\S+", "点击排行"]
    assert parse_patterns("") == [] and parse_patterns(None) == []
    extended = BoilerplateFilter(project.CASCRAWL_BOILERPLATE_PATTERNS + parse_patterns('["责任校对[:：]\\\\S+"]'))
    assert extended.is_boilerplate("责任校对：李某 语音播报")
    assert not DEFAULT.is_boilerplate("责任校对：李某 语音播报")


def test_a_bad_pattern_is_an_error_not_a_silent_no_op():
    with pytest.raises(BoilerplateError, match="not a regular expression"):
        BoilerplateFilter(["(unclosed"])
    with pytest.raises(BoilerplateError, match="JSON"):
        parse_patterns('["unterminated')


def test_no_patterns_removes_nothing():
    assert BoilerplateFilter([]).split("语音播报\n正文。") == ("语音播报\n正文。", [])


MARKERS = ("更多+", "网站地图", "当前位置", "ICP备", "公网安备", "网站标识码", "字号", "打印本页", "语音播报", "扫一扫", "邮编", "版权所有")


@pytest.mark.parametrize("expected", expected_articles(), ids=lambda e: e["url"].split("/")[-1])
def test_on_whole_fixture_pages_the_second_net_takes_the_chrome_and_leaves_the_body(expected):
    """The text of a whole page, navigation and all, as if the parser had found no body container."""
    html, _ = decode_html(expected["page"].read_bytes())
    body = lxml.html.document_fromstring(html).find("body")
    text = html_to_text(lxml.html.tostring(body, encoding="unicode"))
    kept, removed = DEFAULT.split(text)
    # What stays, cleaned as the copies step would; on old table-layout pages a layout row holds the
    # whole body on one line, so each expected paragraph is looked for inside the kept text.
    everything_kept = remove_pinyin_glosses(kept)
    if detect_script(everything_kept) == "traditional":
        everything_kept = to_simplified(everything_kept)
    for line in expected["text"].split("\n"):
        assert line in everything_kept
    kept_keys = [matching_key(line) for line in kept.split("\n")]
    assert removed, "every fixture page has a footer"
    leftovers = [line for line in kept_keys if any(marker in line for marker in MARKERS) or line.startswith(("©", "来源"))]
    assert leftovers == []


@pytest.mark.parametrize("pattern", [r"责任校对：\S+", r"責任校對：\S+", r"責任校對:\S+", r"责任校对[:：]\S+"])
@pytest.mark.parametrize("line", ["责任校对：李某", "責任校對：李某", "责任校对:李某", "責(zé)任校對：李某"])
def test_a_pattern_in_full_width_or_traditional_form_matches_like_its_normalised_form(pattern, line):
    assert BoilerplateFilter([pattern]).is_boilerplate(line)
    assert not BoilerplateFilter([pattern]).is_boilerplate(f"本文{line}")


def test_only_the_normalised_line_is_tried_not_the_raw_one():
    # A pattern that matches the raw line only (it spells out the gloss) never matches: glosses are gone.
    assert not BoilerplateFilter([r"邮\(yóu\)编"]).is_boilerplate("邮(yóu)编")
    assert BoilerplateFilter([r"邮编"]).is_boilerplate("邮(yóu)编")
