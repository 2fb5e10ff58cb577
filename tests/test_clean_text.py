"""Text step and the pure text functions: tables, images, captions, glosses, script, short fields."""

from __future__ import annotations

import pytest

from cascrawl.text import (
    clean_person,
    clean_source,
    count_pinyin_glosses,
    detect_script,
    html_to_text,
    one_line,
    remove_pinyin_glosses,
    to_simplified,
)


def test_a_table_gives_one_line_per_row_with_cells_separated_by_one_space():
    html = ("<p>经费安排如下：</p>"
            "<table><caption>表1 经费</caption>"
            "<tr><th>项目</th><th>金额（万元）</th></tr>"
            "<tr><td><p>设备</p><p>购置</p></td><td>120</td></tr>"
            "<tr><td>差旅<br>会议</td><td>\u3000 35 </td></tr>"
            "<tr><td></td><td>&nbsp;</td></tr></table>"
            "<p>以上为预算。</p>")
    assert html_to_text(html) == "经费安排如下：\n表1 经费\n项目 金额（万元）\n设备 购置 120\n差旅 会议 35\n以上为预算。"


def test_an_image_ends_its_line_so_a_caption_beside_it_is_a_line_of_its_own():
    html = ("<p>正文第一段。</p>"
            "<p style='text-align:center'><img src='./W0.jpg'>茶话会现场</p>"
            "<figure><img src='./W1.jpg'><figcaption>样品照片。研究团队供图</figcaption></figure>"
            "<p>前文<img src='./W2.jpg'>图注</p>")
    assert html_to_text(html) == "正文第一段。\n茶话会现场\n样品照片。研究团队供图\n前文\n图注"


def test_nbsp_and_ideographic_indentation_go_and_nfc_never_nfkc():
    html = "<p>\u3000\u3000（一）科研进展：好！ＡＢＣ\u00a0\u00a0１２３</p><p>e\u0301</p>"
    # full-width letters/digits/punctuation stay as published (NFKC would turn them to ASCII)
    assert html_to_text(html) == "（一）科研进展：好！ＡＢＣ １２３\né"


@pytest.mark.parametrize("glossed, clean, glosses", [
    ("當(dāng)前位置", "當前位置", 1),
    ("當(dāng)(dāng)前", "當前", 2),  # a run of glosses goes at once: removal is idempotent
    ("領（lǐng）導", "領導", 1),  # full-width parentheses
    ("區(qū)(松山湖科學(xué)城)", "區(松山湖科學城)", 2),  # the real parenthesis after a gloss stays
    ("中国科学院(CAS)于(2020)年在(Nature)发表", "中国科学院(CAS)于(2020)年在(Nature)发表", 0),
    ("发表 (dāng) 论文", "发表 (dāng) 论文", 0),  # not right after a Han character
    ("當(dang)(dāng)", "當(dang)(dāng)", 0),  # a toneless syllable is not a gloss, nor what follows it
])
def test_pinyin_glosses(glossed, clean, glosses):
    assert remove_pinyin_glosses(glossed) == clean
    assert remove_pinyin_glosses(clean) == clean
    assert count_pinyin_glosses(glossed) == glosses


def test_conversion_uses_taiwan_forms_and_is_done_once_and_for_all():
    assert to_simplified("要著眼於科技,看著") == "要着眼于科技,看着"
    assert to_simplified("顯著的著作") == "显著的著作"
    assert to_simplified("薴麻") == "苎麻"  # tw2s alone stops at 苧, which t2s would still change
    assert detect_script(to_simplified("薴薴薴薴")) == "simplified"


def test_simplified_text_with_taiwan_variant_characters_is_not_called_traditional():
    # tw2s maps a lone 么 to 幺; detection counts only what plain t2s changes.
    assert detect_script("么么么 要么这样要么那样，么") == "simplified"
    assert detect_script("中國科學院廣東省全面戰略合作領導小組會議在穗召開") == "traditional"


@pytest.mark.parametrize("raw, clean", [
    ("来源：科技日报", "科技日报"),
    ("來源: 新華社", "新華社"),
    ("（来源：新华社）", "新华社"),
    ("地球化学研究所,中国科学院", "地球化学研究所"),
    ("分子植物科学卓越创新中心，中国科学院", "分子植物科学卓越创新中心"),
    ("来源：", None),
    ("  ", None),
    (None, None),
    ("(a) b (c)", "(a) b (c)"),  # brackets that do not enclose the whole value stay
])
def test_source(raw, clean):
    assert clean_source(raw) == clean


@pytest.mark.parametrize("raw, clean", [
    ("（责任编辑：王某某）", "王某某"),
    ("責任編輯:王某某", "王某某"),
    ("作者：张某某", "张某某"),
    ("文/李某", "李某"),
    ("【编辑：赵某】", "赵某"),
    ("王某某 李某", "王某某 李某"),
    ("责任编辑：", None),
    (None, None),
])
def test_author_and_editor(raw, clean):
    assert clean_person(raw) == clean


def test_one_line():
    assert one_line("  标题\n第二行\u200b ") == "标题 第二行"
    assert one_line(None) == ""
