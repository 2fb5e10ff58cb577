import pytest

from cascrawl.text import content_hash, detect_script, html_to_text, remove_pinyin_glosses, to_simplified


def test_one_paragraph_per_line_with_indentation_and_empty_paragraphs_gone():
    html = ("<p>\u3000\u3000第一段，有<strong>加粗</strong>和<a href='x'>链接</a>。</p>"
            "<p>&nbsp;&nbsp;第二段<br>换行后</p><p>&nbsp;</p><p>  多个   空格\t在此 </p>")
    assert html_to_text(html) == "第一段，有加粗和链接。\n第二段\n换行后\n多个 空格 在此"


def test_scripts_styles_and_images_give_no_text_and_captions_stay_as_lines():
    html = ("<script>document.write('x')</script><style>p{}</style>"
            "<p><img src='./W0.jpg'></p><p>茶话会现场</p><div><span>正文</span></div>")
    assert html_to_text(html) == "茶话会现场\n正文"


def test_full_width_punctuation_is_kept_and_zero_width_removed():
    assert html_to_text("<p>科研\u200b进展：好！（一）</p>") == "科研进展：好！（一）"


def test_pinyin_glosses_after_han_characters_are_removed():
    assert remove_pinyin_glosses("當(dāng)前位置 戰(zhàn)略 領（lǐng）導") == "當前位置 戰略 領導"


def test_parentheses_that_are_not_glosses_stay():
    text = "中国科学院(CAS)于(2020)年在《自然》(Nature)发表 (dāng) 论文"
    assert remove_pinyin_glosses(text) == text


def test_script_detection_and_conversion():
    traditional = "中國科學院廣東省全面戰略合作領導小組會議在穗召開"
    assert detect_script(traditional) == "traditional"
    assert to_simplified(traditional) == "中国科学院广东省全面战略合作领导小组会议在穗召开"
    assert detect_script("中国科学院广东省全面战略合作领导小组会议在穗召开") == "simplified"


def test_content_hash_changes_with_any_change_of_title_or_text_and_with_where_the_title_ends():
    variants = [("标题", "正文"), ("标题", "正文。"), ("标题。", "正文"), ("正文", "标题"), ("标题正", "文"),
                ("标", "题正文"), ("标题", ""), ("", "标题")]
    assert len({content_hash(title, text) for title, text in variants}) == len(variants)


def test_a_source_line_break_is_no_paragraph_and_vanishes_between_chinese_characters():
    html = "<p><span>数据资源总量持续增长。</span>\n   <span>数据汇交</span> and\n more\n中文</p>"
    assert html_to_text(html) == "数据资源总量持续增长。数据汇交 and more 中文"


def test_a_table_gives_one_line_per_row_with_cells_separated_by_a_space():
    html = ("<p>结果如下：</p><table><thead><tr><th>深度</th><th>储量<br>（亿吨）</th></tr></thead>"
            "<tbody><tr><td>0—1米</td><td><p>176</p></td></tr><tr><td></td><td></td></tr></tbody></table><p>完。</p>")
    assert html_to_text(html) == "结果如下：\n深度 储量 （亿吨）\n0—1米 176\n完。"


# Every tone-marked vowel and syllabic consonant of Hanyu Pinyin, written out here rather than read from
# cascrawl.text.TONE_MARKS: a mark dropped from that list must fail this test.
PINYIN_TONE_MARKS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"


def test_a_gloss_of_one_letter_is_a_gloss():
    assert remove_pinyin_glosses("阿(ā)姨 额(é)度 哦(ò) 呃（è）") == "阿姨 额度 哦 呃"


def test_a_gloss_of_seven_letters_is_a_gloss_and_eight_letters_are_not():
    assert remove_pinyin_glosses("壮(zhuàng)观 双(shuāngs)方") == "壮观 双方"
    assert remove_pinyin_glosses("床(zhuàngsh)") == "床(zhuàngsh)"


@pytest.mark.parametrize("mark", list(PINYIN_TONE_MARKS))
def test_each_tone_mark_makes_a_gloss(mark):
    assert remove_pinyin_glosses(f"嗯({mark})好") == "嗯好"
    assert remove_pinyin_glosses(f"嗯(x{mark}x)好") == "嗯好"


def test_every_tone_mark_is_known_to_the_text_module():
    from cascrawl.text import TONE_MARKS

    assert set(PINYIN_TONE_MARKS) <= set(TONE_MARKS)


def test_a_run_of_glosses_goes_up_to_the_first_toneless_syllable():
    assert remove_pinyin_glosses("當(dāng)(dāng)前") == "當前"
    assert remove_pinyin_glosses("當(dāng)(dang)(dāng)前") == "當(dang)(dāng)前"
    assert remove_pinyin_glosses("當(dang)前") == "當(dang)前"
