"""Properties of the cleaning, checked on generated input (hypothesis).

- cleaning is idempotent: cleaning the output of the cleaning changes nothing;
- it never removes a paragraph that is not boilerplate (a line with sentence punctuation);
- gloss removal never changes text without glosses, and takes out exactly the glosses inserted;
- dates in the page formats parse to themselves, and no resolved date is in the future or before 1949.
"""

from __future__ import annotations

import html
from datetime import date, datetime, time, timedelta, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st
from itemadapter import ItemAdapter
from scrapy.utils.test import get_crawler

from cascrawl.dates import BEIJING, EARLIEST, parse_datetime, parse_with_dateparser, resolve, today_in_beijing
from cascrawl.items import ArticleItem
from cascrawl.text import normalize_lines, remove_pinyin_glosses
from cascrawl.pipelines import cleaning_pipelines
from cascrawl.pipelines.boilerplate import BoilerplatePipeline
from cascrawl.pipelines.text import TextPipeline
from cascrawl.spiders.cas_news import CasNewsSpider

from .test_clean_boilerplate import BOILERPLATE

CRAWLER = get_crawler(CasNewsSpider)
CHAIN = cleaning_pipelines(CRAWLER)
LINE_REMOVERS = [TextPipeline.from_crawler(CRAWLER), BoilerplatePipeline.from_crawler(CRAWLER)]

TRADITIONAL = "當前位置首頁工作動態廣東省全面戰略合作領導小組會議學習貫徹總書記視察講話精神規劃關於堅持創新國現代化建設麼薴著"
SYLLABLES = ["dāng", "zhàn", "lǐng", "dǎo", "xué", "qū", "guó", "zhǔ", "nǚ", "lüè"]
MENTIONS = ["版权所有", "地址：", "来源：", "时间：2020-11-22", "当前位置：首页 >> ", "©", "© 1996", "邮编：100864",
            "京ICP备05002857号-1", "语音播报", "附件下载", "網(wǎng)站標(biāo)識碼bm48000017", "电话：010-68597114"]
SENTENCE_MARKS = "。！？；，,;!?"

han = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
pieces = st.one_of(
    st.text(han, min_size=1, max_size=8),
    st.text(st.sampled_from(TRADITIONAL), min_size=1, max_size=8),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=6),
    st.sampled_from(list("（）()【】《》“”、·—…：:") + [" ", "\u00a0", "\u3000", "\t", "\u200b", "\ufeff", "e\u0301"]),
    st.builds(lambda h, s: f"{h}({s})", han, st.sampled_from(SYLLABLES)),
    st.builds(lambda h, s: f"{h}（{s}）", st.sampled_from(TRADITIONAL), st.sampled_from(SYLLABLES)),
    st.sampled_from(SYLLABLES).map("({})".format),  # after another gloss: a run of glosses
    st.sampled_from(MENTIONS),
)
lines = st.lists(pieces, max_size=25).map("".join)
sentences = st.tuples(lines, st.sampled_from(SENTENCE_MARKS), lines).map("".join)


def item_from(title: str, body_lines: list[str], **fields) -> ArticleItem:
    url = "https://www.cas.cn/syky/202506/t20250610_5072001.shtml"
    return ArticleItem(url=url, fetched_url=url, docid=5072001, section="syky", fetched_at=datetime.now(timezone.utc),
                       title=title, url_date=date(2025, 6, 10),
                       html="".join(f"<p>{html.escape(line)}</p>" for line in body_lines), **fields)


def run(pipelines, item: ArticleItem) -> ItemAdapter:
    for pipeline in pipelines:
        item = pipeline.process_item(item)
    return ItemAdapter(item)


@settings(max_examples=200, deadline=None)
@given(title=lines, body=st.lists(st.one_of(lines, st.sampled_from(BOILERPLATE)), max_size=8),
       source=lines, editor=lines)
@example(title="當(dāng)(dāng)前位置", body=["薴麻薴麻薴麻。", "麼麼麼"], source="", editor="")
def test_cleaning_is_idempotent(title, body, source, editor):
    once = run(CHAIN, item_from(title, body, source=source, editor=f"（责任编辑：{editor}）"))
    twice = run(CHAIN, item_from(once["title"] or "", (once["text"] or "").split("\n"),
                                 source=once["source"], editor=once["editor"]))
    fields = ("title", "text", "source", "editor", "content_hash", "published_date", "reject_reason")
    assert {name: twice[name] for name in fields} == {name: once[name] for name in fields}


@settings(max_examples=200, deadline=None)
@given(paragraphs=st.lists(sentences, min_size=1, max_size=6),
       boilerplate=st.lists(st.sampled_from(BOILERPLATE), max_size=6), data=st.data())
def test_no_paragraph_is_ever_removed_and_all_the_boilerplate_is(paragraphs, boilerplate, data):
    body = list(paragraphs)
    for line in boilerplate:
        body.insert(data.draw(st.integers(0, len(body))), line)
    cleaned = run(LINE_REMOVERS, item_from("标题", body))
    assert cleaned["text"].split("\n") == [normalize_lines(p) for p in paragraphs]


@settings(max_examples=300)
@given(text=st.text(st.one_of(han, st.sampled_from(TRADITIONAL + "()（）abcdzü 12"),
                              st.characters(min_codepoint=0x20, max_codepoint=0x7E))))
def test_gloss_removal_leaves_text_without_glosses_alone(text):
    assert remove_pinyin_glosses(text) == text


@settings(max_examples=300)
@given(text=st.text(st.one_of(han, st.sampled_from(TRADITIONAL + "()（）abcdzü 12")), min_size=1), data=st.data())
def test_gloss_removal_takes_out_exactly_the_inserted_glosses(text, data):
    glossed = "".join(
        ch + (data.draw(st.sampled_from(["", "({}）", "（{})", "({})"])).format(data.draw(st.sampled_from(SYLLABLES)))
              if "\u4e00" <= ch <= "\u9fa5" else "")
        for ch in text
    )
    assert remove_pinyin_glosses(glossed) == text


FORMATS = [  # (label, date form, shows a time of day)
    ("", "{d:%Y-%m-%d} {t:%H:%M}", True),
    ("", "{d:%Y-%m-%d} {t:%H:%M:%S}", True),
    ("", "{d:%Y.%m.%d}", False),
    ("", "{d.year}年{d.month}月{d.day}日", False),
    ("", "{d:%Y年%m月%d日} {t:%H:%M}", True),
    ("发布时间：", "{d:%Y-%m-%d}", False),
    ("時間:", "{d:%Y-%m-%d}", False),
    ("", "{d:%Y/%m/%d}", False),
]


@settings(max_examples=100, deadline=None)
@given(day=st.dates(EARLIEST, today_in_beijing() + timedelta(days=1)), moment=st.times(), form=st.sampled_from(FORMATS))
def test_page_date_formats_parse_to_the_date_they_say(day, moment, form):
    label, pattern, has_time = form
    shown = pattern.format(d=day, t=moment)
    parsed = parse_datetime(label + shown)
    seconds = moment.second if "%S" in pattern else 0
    expected = datetime.combine(day, time(moment.hour, moment.minute, seconds) if has_time else time(0), tzinfo=BEIJING)
    assert parsed == (expected, has_time)
    assert resolve([("page", label + shown)]).published.date == day
    # the direct reading of the numeric forms gives what dateparser gives
    assert parse_with_dateparser(shown) == parsed


@settings(max_examples=100, deadline=None)
@given(candidates=st.lists(st.tuples(st.sampled_from(["meta", "page", "listing", "url"]),
                                     st.one_of(st.dates(date(1800, 1, 1), date(2200, 12, 31)),
                                               st.dates(date(1800, 1, 1), date(2200, 12, 31)).map("{:%Y-%m-%d}".format),
                                               st.none())),
                           max_size=4))
def test_a_resolved_date_is_never_in_the_future_nor_before_1949(candidates):
    today = today_in_beijing()
    published = resolve(candidates).published
    plausible = [c for c in candidates if c[1] is not None
                 and EARLIEST <= (c[1] if isinstance(c[1], date) else date.fromisoformat(c[1])) <= today + timedelta(days=1)]
    if published is None:
        assert plausible == []
    else:
        assert EARLIEST <= published.date <= today + timedelta(days=1)
        assert (published.origin, published.date) == (plausible[0][0], plausible[0][1] if isinstance(plausible[0][1], date)
                                                       else date.fromisoformat(plausible[0][1]))
