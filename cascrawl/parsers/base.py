"""What every CAS page parser shares: the parsed page, field helpers, and the result types.

A parser is a small class per page layout (the way Fundus keeps one class per publisher layout):
`matches(page)` says whether the page is its own, one method per field returns `(value, path)`,
and `path` is recorded as the field's provenance, so a layout change shows up in the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urljoin

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from cascrawl.dates import CAS_DATE
from cascrawl.text import PINYIN_GLOSS, parseable
from cascrawl.urls import parse_article_url

Found = tuple[str, str] | None  # (value, provenance path) or nothing

# Labels in Simplified and Traditional; re-served copies write them with pinyin glosses (時間(jiān)).
_GLOSS = rf"(?:{PINYIN_GLOSS})?"


def label(*words: str) -> str:
    """Regex for any of `words`, each character optionally followed by a pinyin gloss."""
    return "(?:" + "|".join(_GLOSS.join(map(re.escape, word)) + _GLOSS for word in words) + ")"


DATE_LABEL = label("发布时间", "發布時間", "发布日期", "發布日期", "时间", "時間", "日期")
SOURCE_LABEL = label("文章来源", "文章來源", "来源", "來源", "稿源")
AUTHOR_LABEL = label("作者")
EDITOR_LABEL = label("责任编辑", "責任編輯", "责编", "責編", "编辑", "編輯")
LABELLED_DATE = re.compile(rf"{DATE_LABEL}\s*[:：]\s*(?P<value>{CAS_DATE})")
ANY_DATE = re.compile(CAS_DATE)
# A label's value ends at white space, a bracket or the next label.
_VALUE_STOP = r"\s|｜\]】\)）"
NEXT_LABEL = rf"(?:{DATE_LABEL}|{SOURCE_LABEL}|{AUTHOR_LABEL}|{EDITOR_LABEL}|字号)\s*[:：]"


def labelled_value(word_label: str, text: str) -> str | None:
    """The value after `label：` in text, or None; an empty value (来源： 时间：…) is None."""
    pattern = re.compile(rf"{word_label}\s*[:：]\s*(?!{NEXT_LABEL})(?P<value>[^{_VALUE_STOP}]+)")
    match = pattern.search(text)
    return match.group("value").strip() if match else None


@lru_cache(maxsize=256)
def _compiled(css: str) -> CSSSelector:
    return CSSSelector(css)


# The end of a document followed by more markup: a page made of concatenated documents (a header include
# that ends in </html> before the article's own document). libxml2 drops everything after the first </html>.
_DOCUMENT_END = re.compile(r"</html\s*>(?=\s*<)", re.IGNORECASE)


def parse_document(html: str | None) -> etree._Element:
    """The page's element tree; a page with nothing to parse (empty, only white space or comments) is an
    empty document rather than an error. A page of several concatenated documents is one tree, as a
    browser shows it: their bodies one after the other, in order; the last document's head first, so its
    `<title>` and meta (the article's, after a header include's) are the page's."""
    html = parseable(html or "")
    parts = [part for part in _DOCUMENT_END.split(html) if part.strip()]
    if len(parts) > 1:
        documents = [_one_document(part) for part in parts]
        shown = [document for document in documents[1:] if _shows_text(document)]
        if shown:  # not only scripts after the first </html> (analytics tags often are): several documents
            return _joined([documents[0], *shown])
    return _one_document(html)


def _shows_text(document: etree._Element) -> bool:
    body = document.find("body")
    return body is not None and bool(visible_text(body))


def _one_document(html: str) -> etree._Element:
    try:
        return lxml.html.document_fromstring(html or "<html></html>")
    except etree.ParserError:  # "Document is empty"
        return lxml.html.document_fromstring("<html></html>")


def _joined(documents: list[etree._Element]) -> etree._Element:
    root = lxml.html.document_fromstring("<html><head></head><body></body></html>")
    head, body = root.find("head"), root.find("body")
    for document in reversed(documents):
        found = document.find("head")
        if found is not None:
            head.extend(list(found))
    for document in documents:
        found = document.find("body")
        if found is not None:
            if found.text and found.text.strip():
                wrapper = etree.SubElement(body, "div")
                wrapper.text = found.text
            body.extend(list(found))
    return root


class Page:
    """A parsed page and what every parser reads from it."""

    def __init__(self, html: str, url: str):
        self.url = url
        self.root: etree._Element = parse_document(html)
        ref = parse_article_url(url)
        # Links are made absolute on the canonical site, so a mirror crawl stores the same links.
        self.link_base = ref.canonical_url if ref else url
        self.cache: dict[str, object] = {}  # per-page results a parser computes once
        self.meta = {}  # name (or OpenGraph property, or itemprop) -> content, the first of each
        for element in self.root.iter("meta"):
            name = (element.get("name") or element.get("property") or element.get("itemprop") or "").strip().lower()
            if name and name not in self.meta:
                self.meta[name] = " ".join((element.get("content") or "").split())

    def first(self, css: str) -> etree._Element | None:
        """The first match in document order (for nested containers: the outermost)."""
        found = _compiled(css)(self.root)
        return found[0] if found else None

    def first_of(self, selectors) -> tuple[str, etree._Element] | None:
        """(selector, element) for the first selector that matches, in the order given."""
        for css in selectors:
            found = self.first(css)
            if found is not None:
                return css, found
        return None

    def all(self, css: str) -> list[etree._Element]:
        return _compiled(css)(self.root)

    def text_of(self, element: etree._Element | None, spaced: bool = True) -> str:
        if element is self.root and spaced:
            return self.page_text
        return visible_text(element, spaced) if element is not None else ""

    @property
    def page_text(self) -> str:
        """The whole page's visible text, on one line (several fields search it: walked once)."""
        if "page_text" not in self.cache:
            self.cache["page_text"] = visible_text(self.root)
        return self.cache["page_text"]

    @property
    def all_text(self) -> str:
        """Every text node of the page, scripts included, run together: for a quick "is it anywhere" test."""
        if "all_text" not in self.cache:
            self.cache["all_text"] = "".join(self.root.itertext())
        return self.cache["all_text"]

    def text_before(self, element: etree._Element | None) -> str:
        """Visible text of the page up to `element` (the header region: title, info line, breadcrumb)."""
        body = self.first("body")
        if body is None:
            return ""
        parts: list[str] = []
        _text_until(body, element, parts)
        return " ".join(" ".join(parts).split())

    def text_after(self, start: etree._Element, stop: etree._Element | None = None, limit: int = 0) -> str:
        """Visible text that follows `start` (not inside it) up to `stop`, or up to about `limit`
        characters when `limit` is given: the region under a headline (the info line)."""
        parts: list[str] = []
        node = start
        try:
            while node is not None:
                if node.tail:
                    parts.append(node.tail)
                for sibling in node.itersiblings():
                    _walk_until(sibling, stop, parts)
                    if sibling.tail:
                        parts.append(sibling.tail)
                    if limit and sum(len(part.strip()) for part in parts) > limit:  # markup indentation is no text
                        raise _Stop
                node = node.getparent()
        except _Stop:
            pass
        text = " ".join(" ".join(parts).split())
        return text[:limit] if limit else text

    @property
    def head_title(self) -> str:
        """The `<title>` as written, on one line."""
        if "head_title" not in self.cache:
            self.cache["head_title"] = self.text_of(self.first("head title"), spaced=False)
        return self.cache["head_title"]

    def header_text(self, body: etree._Element | None) -> str:
        """Text above the body when the body is part of this page, else the whole page's text."""
        if body is not None and body.getroottree().getroot() is self.root:
            return self.text_before(body)
        return self.text_of(self.root)

    def absolute(self, href: str) -> str:
        return urljoin(self.link_base, href.strip())


class _Stop(Exception):
    pass


def _text_until(element: etree._Element, stop: etree._Element | None, parts: list[str]) -> None:
    try:
        _walk_until(element, stop, parts)
    except _Stop:
        pass


def _walk_until(element, stop, parts):
    if element is stop:
        raise _Stop
    if not isinstance(element.tag, str) or element.tag in ("script", "style", "noscript"):
        return
    if element.text:
        parts.append(element.text)
    for child in element:
        _walk_until(child, stop, parts)
        if child.tail:
            parts.append(child.tail)


_INVISIBLE = frozenset(("script", "style", "noscript"))


def visible_text(element: etree._Element, spaced: bool = True, skip: frozenset[str] = _INVISIBLE) -> str:
    """Text of an element on one line, scripts excluded; spaced=True keeps side-by-side spans apart;
    `skip` names the elements left out (scripts and styles, and, to read a page without its lists, ul/ol)."""
    parts: list[str] = []
    separator = " " if spaced else ""

    def walk(node):
        if not isinstance(node.tag, str) or node.tag in skip:
            return
        if node.text:
            parts.append(node.text)
        for child in node:
            parts.append(separator)
            walk(child)
            parts.append(separator)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return " ".join("".join(parts).split())


@dataclass(slots=True)
class ArticleData:
    """Plain data of one article page, before cleaning."""

    parser: str  # e.g. "cas.article.current@2025"
    title: str | None = None
    date_text: str | None = None  # unparsed; dates are parsed by the pipelines
    date_origin: str | None = None  # meta or page
    source: str | None = None
    author: str | None = None
    editor: str | None = None
    body_html: str | None = None  # sanitized fragment, absolute URLs
    images: list[dict] = field(default_factory=list)
    attachments: list[dict] = field(default_factory=list)
    videos: list[dict] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
