"""Pure text functions: body HTML to clean text, pinyin-gloss removal, script conversion, hashing.

Nothing here knows about Scrapy or the database; every function takes strings and returns strings.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

import lxml.html
from lxml import etree

# Elements whose boundaries are line breaks in the text.
_BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd tr table thead tbody tfoot caption section article "
    "blockquote figure figcaption center pre hr address header footer aside nav main".split()
)
# Elements whose content is never article text (the sanitizer, cascrawl/sanitize.py, drops them whole).
NOT_TEXT_TAGS = frozenset("script style noscript template iframe object embed form button select textarea svg math".split())
_CELL_TAGS = frozenset({"td", "th"})
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


# Characters libxml2 refuses in a document (NUL and other C0 controls, lone surrogates, non-characters):
# a hostile or broken page may hold them; browsers do not show them either.
_UNPARSEABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def parseable(html: str) -> str:
    """`html` without the characters lxml refuses to parse."""
    return _UNPARSEABLE.sub("", html)


def html_to_text(fragment: str) -> str:
    """Body HTML fragment -> text with one paragraph per line.

    Lines are stripped (ASCII space, nbsp, ideographic space U+3000), runs of whitespace inside a
    line become one space, zero-width characters go, empty lines go, and the result is NFC (never
    NFKC: full-width punctuation stays as published).

    Tables: one line per row (`tr`), its cells separated by one space; what is inside a cell
    (paragraphs, `<br>`) stays on the row's line, so a row never spans several lines. Empty cells
    and empty rows give nothing. An `<img>` gives no text but ends the line it sits in, so a caption
    written next to its image is a line of its own.
    """
    if not fragment or not fragment.strip():
        return ""
    fragment = parseable(fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, AssertionError):  # lxml's complaints about something shaped like a whole document
        root = lxml.html.document_fromstring(f"<html><body><div>{fragment}</div></body></html>").find("body")
    chunks: list[str] = []
    _collect_text(root, chunks, in_cell=False)
    return normalize_lines("".join(chunks))


def _collect_text(element: etree._Element, chunks: list[str], in_cell: bool = False) -> None:
    tag = element.tag if isinstance(element.tag, str) else None  # comments / PIs have no str tag
    if tag is None or tag in NOT_TEXT_TAGS:
        return
    # Inside a table cell every boundary is a space: the whole row stays on one line.
    boundary = " " if in_cell else "\n"
    if tag in ("br", "img"):
        chunks.append(boundary)
        return
    is_block = tag in _BLOCK_TAGS
    if tag in _CELL_TAGS:
        chunks.append(" ")
        in_cell = True
    elif is_block:
        chunks.append(boundary)
    if element.text:
        chunks.append(_soft_breaks(element.text))
    for child in element:
        _collect_text(child, chunks, in_cell)
        if child.tail:
            chunks.append(_soft_breaks(child.tail))
    if tag in _CELL_TAGS:
        chunks.append(" ")
    elif is_block:
        chunks.append(boundary)


# A line break in the HTML source is not a paragraph break: it renders as white space, and
# between two Chinese characters as nothing at all (CSS Text 3 segment-break rule).
_SOURCE_BREAK = re.compile(r"[ \t\r\f\v]*\n\s*")
_SOFT_BREAK = "\x00"
_WIDE = r"\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_SOFT_BETWEEN_WIDE = re.compile(rf"(?<=[{_WIDE}])\x00+(?=[{_WIDE}])")


def _soft_breaks(text: str) -> str:
    return _SOURCE_BREAK.sub(_SOFT_BREAK, text)


def normalize_lines(text: str) -> str:
    """Strip and collapse each line, drop empty lines, remove zero-width characters, NFC."""
    text = unicodedata.normalize("NFC", text.translate(_ZERO_WIDTH))
    text = _SOFT_BETWEEN_WIDE.sub("", text).replace(_SOFT_BREAK, " ")
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def one_line(text: str | None) -> str:
    """A short field (title, source, names) normalized like the body, on a single line."""
    return " ".join(normalize_lines(text or "").split("\n"))


# --- fields -----------------------------------------------------------------------------------

_BRACKETED = re.compile(r"^[（(【\[]\s*(?P<inner>[^（）()【】\[\]]*?)\s*[）)】\]]$")
_SOURCE_LABEL = re.compile(r"^(?:来源|來源|稿源|出处|出處)\s*[:：]\s*")
_CAS_TAIL = re.compile(r"\s*[,，]\s*(?:中国科学院|中國科學院)$")
_PERSON_LABEL = re.compile(r"^(?:责任编辑|責任編輯|责编|責編|编辑|編輯|作者|撰文|文)\s*[:：/]\s*")


def _strip_repeatedly(value: str, *steps) -> str:
    while True:
        before = value
        for step in steps:
            value = step(value).strip()
        if value == before:
            return value


def clean_source(value: str | None) -> str | None:
    """`（来源：新华社）`, `来源：科技日报`, `地球化学研究所,中国科学院` -> the source's name; empty -> None."""
    value = _strip_repeatedly(
        one_line(value),
        lambda v: _BRACKETED.sub(r"\g<inner>", v),
        lambda v: _SOURCE_LABEL.sub("", v),
        lambda v: _CAS_TAIL.sub("", v),
    )
    return value or None


def clean_person(value: str | None) -> str | None:
    """`（责任编辑：王某某）`, `作者：张某某`, `文/李某` -> the name(s); empty -> None."""
    value = _strip_repeatedly(
        one_line(value),
        lambda v: _BRACKETED.sub(r"\g<inner>", v),
        lambda v: _PERSON_LABEL.sub("", v),
    )
    return value or None


# --- re-served copies -------------------------------------------------------------------------

HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK unified ideographs (+ ext. A, compatibility)
TONE_MARKS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"  # what tells a pinyin gloss from (CAS) or (2020)
# The one definition of a pinyin gloss, used by the cleaning (here), the page parsers' labels
# (cascrawl/parsers/base.py) and the re-served-copy detection (cascrawl/parsers/layouts.py): one pinyin
# syllable of 1 to 7 letters, at least one of them tone-marked (a mark is a letter here), in half- or full-width parentheses, e.g. (dāng).
# (CAS), (2020) and (Nature) have no tone mark and are no glosses.
PINYIN_GLOSS = rf"[(（](?=[a-zü]*[{TONE_MARKS}])[a-zü{TONE_MARKS}]{{1,7}}[)）]"
# A gloss where a copy puts one: right after a Han character (當(dāng)).
GLOSSED_HAN = re.compile(rf"[{HAN}]{PINYIN_GLOSS}")
# Glosses are removed as a run (`當(dāng)(dāng)` loses both at once, not one per pass: removal is idempotent),
# up to the first parenthesized syllable without a tone mark: what follows a kept `(dang)` no longer sits
# right after a Han character.
_GLOSS_RUN = re.compile(rf"(?<=[{HAN}])(?:{PINYIN_GLOSS})+")
_GLOSS = re.compile(PINYIN_GLOSS)


def remove_pinyin_glosses(text: str) -> str:
    """Drop the tone-marked pinyin glosses that follow Han characters; text without them is unchanged."""
    if "(" not in text and "（" not in text:
        return text
    return _GLOSS_RUN.sub("", text)


def count_pinyin_glosses(text: str) -> int:
    """How many glosses `remove_pinyin_glosses` takes out of `text`."""
    if "(" not in text and "（" not in text:
        return 0
    return sum(len(_GLOSS.findall(run)) for run in _GLOSS_RUN.findall(text))


@lru_cache(maxsize=2)
def _converter(config: str):
    import opencc  # imported lazily: the converter loads its dictionaries once

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Traditional -> Simplified: OpenCC `tw2s`, then `t2s` over its output.

    tw2s rather than plain t2s: re-served copies use Taiwan-standard forms (著眼, 看著), which t2s
    leaves as 著; tw2s gives 着眼/看着 and still keeps 著作/显著. The t2s pass after it finishes the
    few characters tw2s leaves in a Traditional form (薴 -> 苧 -> 苎), so the result holds nothing
    that `detect_script` would count as Traditional: a converted text is never converted again.
    """
    if not text:
        return text
    return _converter("t2s").convert(_converter("tw2s").convert(text))


def traditional_to_simplified_characters(text: str) -> str:
    """Plain OpenCC `t2s`: Traditional characters to Simplified, Simplified text left as it is.

    For comparing and matching (a Traditional line and its Simplified original give the same
    result), not for storage: `to_simplified` is the conversion of record.
    """
    return _converter("t2s").convert(text) if text else text


def detect_script(text: str) -> str:
    """'traditional' when OpenCC's t2s changes a noticeable share of the Han characters, else 'simplified'.

    Plain t2s counts only genuinely Traditional characters: tw2s would also "convert" Simplified
    characters that are Taiwan variants of others (a lone 么 -> 幺), and call Simplified text Traditional.
    """
    han = re.findall(rf"[{HAN}]", text)
    if not han:
        return "simplified"
    sample = "".join(han[:4000])
    changed = sum(1 for a, b in zip(sample, traditional_to_simplified_characters(sample)) if a != b)
    return "traditional" if changed >= 3 and changed / len(sample) >= 0.02 else "simplified"


def content_hash(title: str | None, text: str | None) -> str:
    """sha256 over normalized title and text: equal hashes mean equal content."""
    payload = f"{title or ''}\n{text or ''}".encode("utf-8")
    return hashlib.sha256(payload).hexdigest()
