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
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd tr table thead tbody tfoot section article "
    "blockquote figure figcaption center pre hr address header footer aside nav main".split()
)
# Elements whose content is never article text.
_SKIPPED_TAGS = frozenset("script style noscript template iframe object embed form button select textarea".split())
_CELL_TAGS = frozenset({"td", "th"})
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


def html_to_text(fragment: str) -> str:
    """Body HTML fragment -> text with one paragraph per line.

    Lines are stripped (ASCII space, nbsp, ideographic space U+3000), runs of whitespace inside a
    line become one space, zero-width characters go, empty lines go, and the result is NFC (never
    NFKC: full-width punctuation stays as published).
    """
    if not fragment or not fragment.strip():
        return ""
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    chunks: list[str] = []
    _collect_text(root, chunks)
    return normalize_lines("".join(chunks))


def _collect_text(element: etree._Element, chunks: list[str], in_cell: bool = False) -> None:
    """Text with "\n" at block boundaries. Inside a table cell blocks are only spaces: a table gives
    one line per row, its cells separated by a space."""
    tag = element.tag if isinstance(element.tag, str) else None  # comments / PIs have no str tag
    if tag is None or tag in _SKIPPED_TAGS:
        return
    if tag == "br":
        chunks.append(" " if in_cell else "\n")
        return
    breaks = "\n" if tag in _BLOCK_TAGS and not in_cell else ""
    if tag in _CELL_TAGS or (in_cell and tag in _BLOCK_TAGS):
        breaks = " "
    in_cell = in_cell or tag in _CELL_TAGS
    chunks.append(breaks)
    if element.text:
        chunks.append(_soft_breaks(element.text))
    for child in element:
        _collect_text(child, chunks, in_cell)
        if child.tail:
            chunks.append(_soft_breaks(child.tail))
    chunks.append(breaks)


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


# --- re-served copies -------------------------------------------------------------------------

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TONE_MARKS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
# A gloss: one tone-marked pinyin syllable in half- or full-width parentheses right after a Han
# character, e.g. 當(dāng). (CAS), (2020) and (Nature) have no tone mark and stay.
_GLOSS = re.compile(rf"(?<=[{_HAN}])[(（]([a-zü{_TONE_MARKS}]{{1,7}})[)）]")


def remove_pinyin_glosses(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        syllable = match.group(1)
        return "" if any(ch in _TONE_MARKS for ch in syllable) else match.group(0)

    return _GLOSS.sub(replace, text)


@lru_cache(maxsize=1)
def _converter(config: str):
    import opencc  # imported lazily: the converter loads its dictionaries once

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    # tw2s rather than t2s: re-served copies use Taiwan-standard forms (著眼, 看著), which plain t2s
    # leaves as 著; tw2s gives 着眼/看着 and still keeps 著作/显著.
    return _converter("tw2s").convert(text) if text else text


def detect_script(text: str) -> str:
    """'traditional' when OpenCC's t2s changes a noticeable share of the Han characters, else 'simplified'."""
    han = re.findall(rf"[{_HAN}]", text)
    if not han:
        return "simplified"
    sample = "".join(han[:4000])
    changed = sum(1 for a, b in zip(sample, to_simplified(sample)) if a != b)
    return "traditional" if changed >= 3 and changed / len(sample) >= 0.02 else "simplified"


def content_hash(title: str | None, text: str | None) -> str:
    """sha256 over normalized title and text: equal hashes mean equal content."""
    payload = f"{title or ''}\n{text or ''}".encode("utf-8")
    return hashlib.sha256(payload).hexdigest()
