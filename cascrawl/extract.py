"""Page extraction for www.cas.cn: HTML + URL in, plain data out. No Scrapy, no database.

Listing pages give article links (with the listing's date and whole title) and the page count;
article pages give title, date text, source, editor, body HTML, attachments and images, with the
path that produced each field, so an operator can see when the site's markup moved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from cascrawl.dates import parse_datetime
from cascrawl.urls import parse_article_url, site_link

# --- listing pages ----------------------------------------------------------------------------

_PAGE_COUNT = re.compile(r"(?:countPage\s*=\s*|createPageHTML\(\s*)(\d+)")
_LISTING_DATE = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}")
_PAGER_LINK = re.compile(r"(?:^|/)index(?:_\d+)?\.s?html?$")


@dataclass(slots=True)
class ListingEntry:
    url: str  # where to fetch it (on the crawled copy)
    canonical_url: str
    title: str  # whole title: the link's title attribute beats its (possibly cut) text
    date: date | None


@dataclass(slots=True)
class ListingPage:
    entries: list[ListingEntry]
    page_count: int | None  # from the TRS pager script; None when the page has no pager
    page_links: list[str]  # pager links present in the markup
    offsite_links: int  # article-list entries pointing off the site, ignored


def parse_listing(html: str, url: str, base_url: str) -> ListingPage:
    """Entries of a listing page in page order, current (`ul.gl_list2`) and old (`#D_mainR`) templates alike.

    An entry is an `li` holding a link to an article path; navigation links are not in `li`s with
    article paths, so the mega-menu is never mistaken for the list.
    """
    root = _parse_html(html)
    entries: list[ListingEntry] = []
    seen: set[str] = set()
    offsite = 0
    for item in root.iter("li"):
        anchor = next((a for a in item.iter("a") if a.get("href")), None)
        if anchor is None:
            continue
        target = site_link(anchor.get("href"), url, base_url)
        if target is None:
            if anchor.get("href", "").startswith(("http:", "https:", "//")):
                offsite += 1
            continue
        ref = parse_article_url(target)
        if ref is None or ref.canonical_url in seen:
            continue
        seen.add(ref.canonical_url)
        title = (anchor.get("title") or _text(anchor)).strip()
        entries.append(ListingEntry(target, ref.canonical_url, title, _listing_date(item)))

    count_match = _PAGE_COUNT.search(html)
    page_links = []
    for anchor in root.iter("a"):
        href = anchor.get("href") or ""
        if _PAGER_LINK.search(href.split("?")[0]):
            target = site_link(href, url, base_url)
            if target and target not in page_links:
                page_links.append(target)
    return ListingPage(
        entries=entries,
        page_count=int(count_match.group(1)) if count_match else None,
        page_links=page_links,
        offsite_links=offsite,
    )


def _listing_date(item: etree._Element) -> date | None:
    for span in item.iter("span"):
        match = _LISTING_DATE.search(_text(span))
        if match:
            parsed = parse_datetime(match.group(0))
            if parsed:
                return parsed[0].date()
    return None


# --- article pages ----------------------------------------------------------------------------

# Body containers, most specific first: 2025– TRS editor, 2019–22 template, older pages.
_BODY_PATHS = (
    ("current", "//div[contains(concat(' ', normalize-space(@class), ' '), ' trs_editor_view ')]"),
    ("mid", "//div[contains(@class, 'xl_content')]//div[contains(concat(' ', normalize-space(@class), ' '), ' TRS_Editor ')]"),
    ("old", "//div[contains(concat(' ', normalize-space(@class), ' '), ' TRS_Editor ')]"),
)
_TITLE_PATHS = (
    ("dom:h2.xl_title", "//h2[contains(@class, 'xl_title')]"),
    ("dom:div.detail_title", "//div[contains(@class, 'detail_title')]//h1"),
)
_INFO_PATHS = (
    "//div[contains(@class, 'xl_title2')]",
    "//div[contains(@class, 'detail_info')]",
)
_TITLE_SUFFIX = re.compile(r"\s*-{2,}[^-]*$")
# The value stops at white space; an empty source followed by the time label (来源： 时间：…) is empty.
_SOURCE_LABEL = re.compile(
    r"(?:来源|來源|稿源)\s*[:：]\s*(?P<value>(?!(?:发布|發布)?(?:时间|時間|日期)\s*[:：])[^\s|｜]+)?"
)
_TIME_LABEL = re.compile(
    r"(?:发布时间|發布時間|时间|時間|日期)\s*[:：]\s*"
    r"(?P<value>\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}日?(?:\s+\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?)"
)
_DOCUMENT_WRITE = re.compile(r"document\.write\(\s*['\"](?P<value>.*?)['\"]\s*\)")
_AUTHOR = re.compile(r"作者\s*[:：]\s*(?P<value>[^\s|｜]+)")
_EDITOR = re.compile(r"(?:责任编辑|責任編輯)\s*[:：]\s*(?P<value>[^\s）)]+)")
_ATTACHMENT_LABEL = ("附件下载", "附件下載")
_CAS_SOURCE_TAIL = re.compile(r"\s*[,，]\s*中国科学院\s*$")
_REMOVED_FROM_BODY = ("script", "style", "noscript", "iframe", "object", "embed", "form", "button")


@dataclass(slots=True)
class ArticlePage:
    template: str | None  # which body container matched: current, mid, old; None if none did
    title: str | None
    date_text: str | None  # the page's own date (meta PubDate, else the info line), unparsed
    date_origin: str | None  # meta or page
    source: str | None
    author: str | None
    editor: str | None
    body_html: str | None  # sanitized fragment: scripts removed, URLs absolute on the canonical site
    attachments: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)


def extract_article(html: str, url: str) -> ArticlePage:
    """Fields of an article page. `url` is where it was fetched; links are made absolute on the
    canonical www.cas.cn URL so a mirror crawl stores the same links as a live one."""
    root = _parse_html(html)
    ref = parse_article_url(url)
    link_base = ref.canonical_url if ref else url
    meta = _meta(root)
    provenance: dict[str, str] = {}

    title = _first(
        provenance, "title",
        ("meta:ArticleTitle", meta.get("articletitle")),
        *((path, _xpath_text(root, xpath)) for path, xpath in _TITLE_PATHS),
        ("dom:title", _TITLE_SUFFIX.sub("", _xpath_text(root, "//title") or "") or None),
    )
    info = _info_text(root)
    time_match = _TIME_LABEL.search(info)
    date_text = _first(
        provenance, "date",
        ("meta:PubDate", meta.get("pubdate")),
        ("dom:info-line", time_match.group("value") if time_match else None),
    )
    source = _first(
        provenance, "source",
        ("meta:ContentSource", meta.get("contentsource")),
        ("dom:info-line", _info_source(root)),
    )
    if source:
        source = _CAS_SOURCE_TAIL.sub("", source).strip() or None
    # Only the info line: a body sentence like "论文第一作者：…" is not the article's author.
    author_match = _AUTHOR.search(_info_text(root, whole_page_fallback=False))
    author = _first(provenance, "author", ("dom:info-line", author_match.group("value") if author_match else None))
    editor_match = _EDITOR.search(_text(root, spaced=True))
    editor = _first(provenance, "editor", ("dom:editor", editor_match.group("value") if editor_match else None))

    template, body = None, None
    for name, xpath in _BODY_PATHS:
        found = root.xpath(xpath)
        if found:
            template, body = name, found[0]
            provenance["body"] = f"dom:{name}"
            break
    body_html = None
    images: list[dict] = []
    if body is not None:
        images = _images(body, link_base)
        body_html = _sanitized_fragment(body, link_base)
    return ArticlePage(
        template=template,
        title=title,
        date_text=date_text,
        date_origin=provenance.get("date", "").split(":")[0] or None,
        source=source,
        author=author,
        editor=editor,
        body_html=body_html,
        attachments=_attachments(root, link_base),
        images=images,
        provenance=provenance,
    )


def _first(provenance: dict[str, str], name: str, *candidates: tuple[str, str | None]) -> str | None:
    """The first non-empty candidate, recording which path produced it."""
    for path, value in candidates:
        value = " ".join(value.split()) if value else ""
        if value:
            provenance[name] = path
            return value
    return None


def _meta(root: etree._Element) -> dict[str, str]:
    found = {}
    for element in root.iter("meta"):
        name = (element.get("name") or "").strip().lower()
        if name and name not in found:
            found[name] = (element.get("content") or "").strip()
    return found


def _info_text(root: etree._Element, whole_page_fallback: bool = True) -> str:
    for xpath in _INFO_PATHS:
        for element in root.xpath(xpath):
            return _text(element, spaced=True)
    return _text(root, spaced=True) if whole_page_fallback else ""


def _info_source(root: etree._Element) -> str | None:
    """The source in the info line; the 2019–22 template writes it with an inline script."""
    for xpath in _INFO_PATHS:
        for element in root.xpath(xpath):
            for span in element.iter():
                own_text = "".join(span.itertext())
                if not re.search(r"来源|來源|稿源", own_text):
                    continue
                for script in span.iter("script"):
                    written = _DOCUMENT_WRITE.search(script.text or "")
                    if written:
                        return written.group("value")
                match = _SOURCE_LABEL.search(_text(span))
                if match:
                    return match.group("value")
    return None


def _images(body: etree._Element, link_base: str) -> list[dict]:
    """Images with their caption: the next text paragraph when it is short, as CAS captions are."""
    images = []
    for img in body.iter("img"):
        src = (img.get("src") or "").strip()
        if not src:
            continue
        caption = None
        block = _enclosing_block(img, body)
        if block is not None and not _text(block):
            sibling = block.getnext()
            while sibling is not None and not _text(sibling) and not list(sibling.iter("img")):
                sibling = sibling.getnext()
            if sibling is not None and not list(sibling.iter("img")):
                candidate = _text(sibling)
                if 0 < len(candidate) <= 80:
                    caption = candidate
        images.append({"url": urljoin(link_base, src), "caption": caption})
    return images


def _enclosing_block(element: etree._Element, stop: etree._Element) -> etree._Element | None:
    node = element
    while node is not None and node is not stop:
        if node.tag in ("p", "div", "center", "figure"):
            return node
        node = node.getparent()
    return element


def _attachments(root: etree._Element, link_base: str) -> list[dict]:
    """Links of the 附件下载 block: inside the labelled element, else in the element right after it."""
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag in ("script", "style", "title"):
            continue
        if any(label in (element.text or "") for label in _ATTACHMENT_LABEL):
            scopes = [element, element.getnext()]
        elif any(label in (element.tail or "") for label in _ATTACHMENT_LABEL):
            scopes = [element.getnext()]
        else:
            continue
        found = []
        for scope in scopes:
            if scope is None or found:
                continue
            for anchor in scope.iter("a"):
                href = (anchor.get("href") or "").strip()
                if href and not href.startswith(("javascript:", "#")):
                    found.append({"url": urljoin(link_base, href), "name": _text(anchor) or None})
        return found
    return []


def _sanitized_fragment(body: etree._Element, link_base: str) -> str:
    fragment = lxml.html.fromstring(etree.tostring(body, encoding="unicode", with_tail=False))
    for element in list(fragment.iter(*_REMOVED_FROM_BODY)):
        element.drop_tree()
    fragment.make_links_absolute(link_base, resolve_base_href=False)
    return etree.tostring(fragment, encoding="unicode", method="html")


def _parse_html(html: str) -> etree._Element:
    return lxml.html.document_fromstring(html or "<html></html>")


def _xpath_text(root: etree._Element, xpath: str) -> str | None:
    found = root.xpath(xpath)
    return _text(found[0]) if found else None


def _text(element: etree._Element, spaced: bool = False) -> str:
    """Visible text of an element on one line: scripts excluded, whitespace collapsed.

    spaced=True separates child elements by a space, for info lines whose spans sit side by side
    (`<span>作者：张某某</span><span>时间：…</span>`).
    """
    parts: list[str] = []
    _visible_text(element, parts, " " if spaced else "")
    return " ".join("".join(parts).split())


def _visible_text(element: etree._Element, parts: list[str], separator: str) -> None:
    if isinstance(element.tag, str) and element.tag not in ("script", "style"):
        if element.text:
            parts.append(element.text)
        for child in element:
            parts.append(separator)
            _visible_text(child, parts, separator)
            parts.append(separator)
            if child.tail:
                parts.append(child.tail)
