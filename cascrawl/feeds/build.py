"""Atom 1.0 (RFC 4287, with RFC 5005 archive links) and JSON Feed 1.1 documents: articles in, bytes out.

Pure: no database, no clock. The caller says which document of a feed's history it builds (`Page`), gives
its articles newest first, the moment the document last changed, and how to link the other documents.
lxml writes the XML (escaping, UTF-8, namespaces), `json` the JSON Feed; nothing is spliced into text.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any, Protocol

from lxml import etree

from cascrawl import __version__
from cascrawl.dates import BEIJING
from cascrawl.sanitize import sanitize_html
from cascrawl.sections import SECTIONS
from cascrawl.urls import CANONICAL_BASE

ATOM = "http://www.w3.org/2005/Atom"
HISTORY = "http://purl.org/syndication/history/1.0"  # RFC 5005: fh:archive, fh:complete
DC = "http://purl.org/dc/elements/1.1/"  # dc:source: the publication an article comes from (来源)
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"
LANGUAGE = "zh-CN"
PUBLISHER = "中国科学院"
# A feed with no article yet still needs an atom:updated: the start of the Unix epoch, in Beijing time.
NEVER = datetime(1970, 1, 1, tzinfo=timezone.utc)
SUMMARY_CHARS = 200

# Characters XML 1.0 cannot carry at all (C0 controls but tab and line ends, lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class ArticleLike(Protocol):
    """What a feed reads of a stored article (cascrawl.db.Article)."""

    url: str
    section: str
    title: str
    published_date: date
    published_at: datetime | None
    updated_at: datetime
    source: str | None
    author: str | None
    editor: str | None
    text: str
    html: str | None
    images: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    videos: list[dict[str, Any]]
    media: list[Any]  # ArticleMedia rows: kind, url, status, size, content_type


@dataclass(frozen=True)
class Feed:
    """One feed: all sections (section None) or one section."""

    section: str | None

    @property
    def title(self) -> str:
        if self.section is None:
            return f"{PUBLISHER} · 新闻"
        return f"{PUBLISHER} · {SECTIONS.get(self.section, self.section)}"

    @property
    def home_url(self) -> str:
        """The section's page on www.cas.cn (the site's home for all sections): the feed's alternate link."""
        return f"{CANONICAL_BASE}/{self.section}/" if self.section else f"{CANONICAL_BASE}/"

    @property
    def id(self) -> str:
        """The feed's atom:id, the same in every document of its history and wherever it is served."""
        return self.home_url


@dataclass(frozen=True)
class Page:
    """One document of a feed's history. number None: the current (subscription) document, the newest
    articles; else archive `number`, 1 holding the oldest. Archives are full pages counted from the oldest
    article, so new articles never change them; the current document holds the 1 to page_size newest."""

    number: int | None
    archives: int  # how many archive documents the feed has

    @property
    def is_archive(self) -> bool:
        return self.number is not None

    @property
    def older(self) -> int | None:
        """The archive holding the articles just before this document's, or None (this one holds the oldest)."""
        number = self.archives + 1 if self.number is None else self.number
        return number - 1 if number > 1 else None

    @property
    def newer(self) -> int | None:
        """The archive just after this one (None: the current document follows, or this is it)."""
        return self.number + 1 if self.number is not None and self.number < self.archives else None


def archive_count(total: int, page_size: int) -> int:
    """Archive documents of a feed of `total` articles: all full pages but the newest articles' (1 to page_size)."""
    return (total - 1) // page_size if total > 0 else 0


def window(page: Page, total: int, page_size: int) -> tuple[int, int]:
    """(newest articles to skip, articles) of the document in newest-first order."""
    if page.number is None:
        start, end = page.archives * page_size, total
    else:
        start, end = (page.number - 1) * page_size, min(page.number * page_size, total)
    return max(total - end, 0), max(end - start, 0)


Links = Callable[[int | None], str]  # the URL of the current document (None) or of an archive (its number)


# --- what an entry carries ---

def rfc3339(moment: datetime) -> str:
    """An RFC 3339 date-time in Beijing time: 2025-06-14T16:30:00+08:00."""
    return moment.astimezone(BEIJING).isoformat()


def published(article: ArticleLike) -> datetime:
    """When it was published: the page's time, else its date at Beijing midnight."""
    return article.published_at or datetime.combine(article.published_date, time(), BEIJING)


def authors(article: ArticleLike) -> list[str]:
    """The article's author (as the page names them), else its source (the publication or institute), else
    nothing: the feed's author, 中国科学院, stands for it."""
    name = (article.author or "").strip() or (article.source or "").strip()
    return [name] if name else []


def summary(article: ArticleLike) -> str:
    """The first paragraph of the text, at most SUMMARY_CHARS characters."""
    first = next((line.strip() for line in article.text.split("\n") if line.strip()), "")
    return first if len(first) <= SUMMARY_CHARS else first[:SUMMARY_CHARS - 1] + "…"


@dataclass(frozen=True)
class Enclosure:
    url: str
    kind: str  # image, attachment, video
    title: str | None
    mime_type: str
    size: int | None  # bytes, when the media archive stored the file


def enclosures(article: ArticleLike) -> list[Enclosure]:
    """Images, attachments and videos, each once, in that order; type and size from the media archive when
    it stored the file, else the type guessed from the URL."""
    archived = {file.url: file for file in article.media or () if file.status == "stored"}
    found: dict[str, Enclosure] = {}
    listed = [("image", item, item.get("caption")) for item in article.images or ()]
    listed += [("attachment", item, item.get("name")) for item in article.attachments or ()]
    listed += [("video", item, None) for item in article.videos or ()]
    for kind, item, title in listed:
        url = item.get("url")
        if not url or url in found:
            continue
        file = archived.get(url)
        mime = (file.content_type if file is not None and file.content_type else None) or _guessed_type(kind, item, url)
        found[url] = Enclosure(url, kind, title or None, mime.split(";")[0].strip(),
                               file.size if file is not None else None)
    return list(found.values())


def _guessed_type(kind: str, item: dict, url: str) -> str:
    if kind == "video" and item.get("type") == "player":
        return "text/html"  # an embedded player page
    if kind == "video" and item.get("type") and "/" in item["type"]:
        return item["type"]
    return mimetypes.guess_type(url, strict=False)[0] or "application/octet-stream"


# --- Atom ---

def atom(feed: Feed, page: Page, articles: Sequence[ArticleLike], updated: datetime | None, links: Links) -> bytes:
    """The Atom document (UTF-8 bytes) of `page` of `feed`, holding `articles` (newest first)."""
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM, "fh": HISTORY, "dc": DC})
    root.set(XML_LANG, LANGUAGE)
    _text(root, "id", feed.id)
    _text(root, "title", feed.title)
    _text(root, "updated", rfc3339(updated or NEVER))
    author = _sub(root, "author")
    _text(author, "name", PUBLISHER)
    _text(author, "uri", f"{CANONICAL_BASE}/")
    _text(root, "generator", "cascrawl", version=__version__)
    _link(root, "self", links(page.number), "application/atom+xml")
    _link(root, "alternate", feed.home_url, "text/html")
    if page.is_archive:
        _link(root, "current", links(None), "application/atom+xml")
        etree.SubElement(root, f"{{{HISTORY}}}archive")
    elif page.archives == 0:
        etree.SubElement(root, f"{{{HISTORY}}}complete")  # this one document holds the whole feed
    if page.older is not None:
        _link(root, "prev-archive", links(page.older), "application/atom+xml")
    if page.newer is not None:
        _link(root, "next-archive", links(page.newer), "application/atom+xml")
    for article in articles:
        _atom_entry(root, article)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _atom_entry(root, article: ArticleLike) -> None:
    entry = _sub(root, "entry")
    _text(entry, "id", article.url)
    _text(entry, "title", article.title)
    _text(entry, "updated", rfc3339(article.updated_at))
    _text(entry, "published", rfc3339(published(article)))
    for name in authors(article):
        _text(_sub(entry, "author"), "name", name)
    if article.editor:
        _text(_sub(entry, "contributor"), "name", article.editor)
    _link(entry, "alternate", article.url, "text/html")
    for file in enclosures(article):
        link = _link(entry, "enclosure", file.url, file.mime_type)
        if file.size is not None:
            link.set("length", str(file.size))
        if file.title:
            link.set("title", _xml(file.title))
    category = _sub(entry, "category", term=article.section, scheme=f"{CANONICAL_BASE}/")
    category.set("label", SECTIONS.get(article.section, article.section))
    if article.source:
        element = etree.SubElement(entry, f"{{{DC}}}source")
        element.text = _xml(article.source)
    _text(entry, "summary", summary(article))
    html = sanitize_html(article.html)  # served HTML is always sanitized, whoever wrote the row
    if html:
        content = _text(entry, "content", html, type="html")
        content.set(XML_BASE, article.url)  # any relative link in the body resolves against the article
    else:
        _text(entry, "content", article.text, type="text")


def _sub(parent, name: str, **attributes: str):
    return etree.SubElement(parent, f"{{{ATOM}}}{name}", {key: _xml(value) for key, value in attributes.items()})


def _text(parent, name: str, value: str, **attributes: str):
    element = _sub(parent, name, **attributes)
    element.text = _xml(value)
    return element


def _link(parent, rel: str, href: str, media_type: str):
    return _sub(parent, "link", rel=rel, href=href, type=media_type)


def _xml(value: str) -> str:
    """The text without the characters XML cannot hold (a page's stray control characters)."""
    return _NOT_XML.sub("", value)


# --- JSON Feed ---

def json_feed(feed: Feed, page: Page, articles: Sequence[ArticleLike], updated: datetime | None,
              links: Links) -> bytes:
    """The JSON Feed 1.1 document (UTF-8 bytes) of `page` of `feed`, holding `articles` (newest first).
    `next_url` leads to the next older document; `feed_url` is always the current one (the feed's identity).
    `_cascrawl` (a JSON Feed extension) carries what the format has no field for."""
    document: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": feed.title,
        "home_page_url": feed.home_url,
        "feed_url": links(None),
        "language": LANGUAGE,
        "authors": [{"name": PUBLISHER, "url": f"{CANONICAL_BASE}/"}],
    }
    if page.older is not None:
        document["next_url"] = links(page.older)
    document["_cascrawl"] = {"page": page.number, "archives": page.archives,
                             "updated": rfc3339(updated or NEVER)}
    document["items"] = [_json_item(article) for article in articles]
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def _json_item(article: ArticleLike) -> dict[str, Any]:
    item: dict[str, Any] = {"id": article.url, "url": article.url, "title": article.title}
    html = sanitize_html(article.html)
    if html:
        item["content_html"] = html
    else:
        item["content_text"] = article.text
    item["summary"] = summary(article)
    files = enclosures(article)
    image = next((file.url for file in files if file.kind == "image"), None)
    if image:
        item["image"] = image
    item["date_published"] = rfc3339(published(article))
    item["date_modified"] = rfc3339(article.updated_at)
    names = authors(article)
    if names:
        item["authors"] = [{"name": name} for name in names]
    item["tags"] = [SECTIONS.get(article.section, article.section)]
    item["language"] = LANGUAGE
    if files:
        item["attachments"] = [
            {"url": file.url, "mime_type": file.mime_type,
             **({"title": file.title} if file.title else {}),
             **({"size_in_bytes": file.size} if file.size is not None else {})}
            for file in files]
    item["_cascrawl"] = {"section": article.section, "source": article.source, "author": article.author,
                         "editor": article.editor}
    return item
