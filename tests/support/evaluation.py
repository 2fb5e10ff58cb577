"""Extraction quality measures, shared by the quality gate (tests) and the benchmark script."""

from __future__ import annotations

import re
from collections import Counter

from cascrawl.text import GLOSSED_HAN

# Strings that are never article content on www.cas.cn: navigation, widgets, footer.
BOILERPLATE_STRINGS = (
    "主要职责", "院况简介", "更多+", "院领导集体", "语音播报", "扫一扫在手机打开当前页", "【字号", "字号：大 中 小",
    "打印本页", "关闭窗口", "当前位置", "版权所有", "京ICP备", "公网安备", "网站标识码", "邮编：100864",
)
PINYIN_GLOSS = GLOSSED_HAN  # a gloss left in a cleaned text (tests/test_gold.py): cascrawl.text's own rule


def char_f1(extracted: str | None, expected: str) -> float:
    """F1 over the multiset of non-whitespace characters: 1.0 when the texts hold the same characters."""
    got = Counter(ch for ch in (extracted or "") if not ch.isspace())
    want = Counter(ch for ch in expected if not ch.isspace())
    if not got and not want:
        return 1.0
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def boilerplate_in(text: str | None) -> list[str]:
    return [s for s in BOILERPLATE_STRINGS if s in (text or "")]


# --- the real-page corpus (../shared/realpages, README there): its scoring rule, shared by the benchmark and the floor test ---

_NO_SPACE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
# Navigation, footer and widget strings of Chinese news sites (the corpus README's leak list).
LEAK_STRINGS = (
    "版权所有", "ICP备", "公网安备", "首页", "当前位置", "责任编辑", "原标题", "分享到", "二维码", "上一篇", "下一篇",
    "相关新闻", "相关阅读", "跟贴", "评论", "免责声明", "扫一扫", "返回顶部",
)


def _squeezed(text: str | None) -> str:
    import unicodedata

    return _NO_SPACE.sub("", unicodedata.normalize("NFKC", text or ""))


def realpage_body_f1(predicted: str | None, paragraphs: list[str]) -> float:
    """Character F1 by the corpus rule: NFKC, white space removed, matched = the matching blocks of difflib's
    SequenceMatcher (order matters, unlike `char_f1`); an empty prediction scores 0."""
    from difflib import SequenceMatcher

    pred, gold = _squeezed(predicted), _squeezed("".join(paragraphs))
    if not pred or not gold:
        return 0.0
    matched = sum(block.size for block in SequenceMatcher(None, pred, gold, autojunk=False).get_matching_blocks())
    if not matched:
        return 0.0
    precision, recall = matched / len(pred), matched / len(gold)
    return 2 * precision * recall / (precision + recall)


def realpage_title_ok(predicted: str | None, truth: dict) -> bool:
    return bool(predicted) and _squeezed(predicted) in {_squeezed(t) for t in [truth["title"], *truth.get("title_alt", [])]}


def realpage_date_ok(predicted: str | None, truth: dict) -> bool:
    return bool(predicted) and predicted in {truth["date"], *truth.get("date_alt", [])}


def realpage_leaks(predicted: str | None, paragraphs: list[str]) -> list[str]:
    """Leak strings the prediction holds more often than the truth."""
    gold = "".join(paragraphs)
    return [s for s in LEAK_STRINGS if (predicted or "").count(s) > gold.count(s)]
