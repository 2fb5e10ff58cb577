"""Extraction quality measures, shared by the quality gate (tests) and the benchmark script."""

from __future__ import annotations

import re
from collections import Counter

from cascrawl.parsers.base import PINYIN_GLOSS as GLOSS
from cascrawl.text import HAN

# Strings that are never article content on www.cas.cn: navigation, widgets, footer.
BOILERPLATE_STRINGS = (
    "主要职责", "院况简介", "更多+", "院领导集体", "语音播报", "扫一扫在手机打开当前页", "【字号", "字号：大 中 小",
    "打印本页", "关闭窗口", "当前位置", "版权所有", "京ICP备", "公网安备", "网站标识码", "邮编：100864",
)
PINYIN_GLOSS = re.compile(rf"[{HAN}]{GLOSS}")


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
