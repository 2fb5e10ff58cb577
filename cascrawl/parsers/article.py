"""The article parser every layout builds on: field priority meta -> layout DOM -> generic fallbacks.

Subclasses name their selectors as class constants and override a field method only where their
layout differs. Each field method returns `(value, provenance path)` or None. The rules it calls live
by field: titles (cascrawl/parsers/titles.py), dates (page_dates.py), what the body holds (body_parts.py);
the names tests and layouts use are importable from here too.
"""

from __future__ import annotations

import re
from typing import ClassVar

from lxml import etree

from cascrawl.boilerplate import matching_key
from cascrawl.dates import complete_date, dated_text
from cascrawl.parsers.base import (
    ANY_DATE, AUTHOR_LABEL, DATE_LABEL, EDITOR_LABEL, LABELLED_DATE, SOURCE_LABEL, ArticleData, Found, Page,
    labelled_value, visible_text,
)
from cascrawl.parsers.body_parts import (
    attachment_links, body_fragment, body_videos, document_position, images_with_captions, is_inside, players_between,
    related_blocks,
)
from cascrawl.parsers.page_dates import (
    date_disagreement, date_value, metadata_date, publication_labelled_date, reference_dates, same_day_more_precise,
    script_date, url_date,
)
from cascrawl.parsers.pruning import drop_keeping_tail
from cascrawl.parsers.titles import TITLE_SUFFIX, agreeing_heading, headings_agree, site_names, title_without_site_name

_CAS_SOURCE_TAIL = re.compile(r"\s*[,，]\s*中国科学院\s*$")
_DOCUMENT_WRITE = re.compile(r"document\.write\(\s*['\"](?P<value>.*?)['\"]\s*\)")
# A page read without its lists (ul, ol, dl, select): related items, sidebars and menus.
_WITHOUT_LISTS = frozenset(("script", "style", "noscript", "ul", "ol", "dl", "select"))
# The date under a headline: within this many characters after it (the info line, before the body).
_REGION_LIMIT = 300
# A date shown without its year (发布时间：10-08 12:00) or with two digits (18-03-08): labelled only.
_LABELLED_PARTIAL_DATE = re.compile(
    rf"{DATE_LABEL}\s*[:：]\s*(?P<value>(?:\d{{2}}[-/.])?\d{{1,2}}[-/.]\d{{1,2}}(?:\s*\d{{1,2}}[:：]\d{{2}})?)(?![-/.\d])"
)
# An unlabelled date of an info line stands alone (2019-09-07 13:43 来源：…), not inside a sentence
# (2019年2月27日下午，…); split spans may space it out (2019 09 / 07 19 : 02).
_STANDALONE_DATE = re.compile(
    r"(?:19|20)\d{2}\s*(?:[-/.年]|\s)\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?:\s*日)?"
    r"(?P<clock>\s*\d{1,2}\s*[:：]\s*\d{2}(?:\s*[:：]\s*\d{2})?)?"
)
_DATE_ENDS = frozenset(" |·/]）)】")
_INFO_LABEL = re.compile(r"(?:来源|來源|作者|编辑|編輯|责任编辑|浏览|阅读|点击|字号|分享|发布|稿源|记者)")


class ArticleParser:
    name: ClassVar[str] = "cas.article"
    version: ClassVar[str] = "0"
    # CSS selectors, most specific first; each is recorded as the provenance of what it found.
    BODY: ClassVar[tuple[str, ...]] = ()  # the body container
    TITLE: ClassVar[tuple[str, ...]] = ()  # the title heading
    INFO: ClassVar[tuple[str, ...]] = ()  # the info line: source, time, author

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    # --- recognition ---

    def matches(self, page: Page) -> bool:
        return self.body_element(page) is not None

    def body_element(self, page: Page) -> etree._Element | None:
        found = page.first_of(self.BODY)
        return found[1] if found else None

    def info_element(self, page: Page) -> etree._Element | None:
        found = page.first_of(self.INFO)
        return found[1] if found else None

    # --- the whole page ---

    def parse(self, page: Page) -> ArticleData:
        data = ArticleData(parser=self.id)
        provenance = data.provenance
        provenance["parser"] = self.id

        def take(name: str, found: Found) -> str | None:
            if found is None:
                return None
            value, path = found
            provenance[name] = path
            return value

        body = self.body_element(page)
        data.title = take("title", self.title(page))
        found_date = self.date(page, body)
        data.date_text = take("date", found_date)
        data.date_origin = found_date[1].split(":")[0] if found_date else None
        disagreement = date_disagreement(found_date, metadata_date(page))
        if disagreement:
            provenance["date_disagreement"] = disagreement
        data.source = take("source", self.source(page, body))
        data.author = take("author", self.author(page, body))
        data.editor = take("editor", self.editor(page, body))
        if body is not None:
            provenance["body"] = self.body_path(page, body)
            for block in related_blocks(body):
                drop_keeping_tail(block)  # a "more videos" / 相关新闻 block: other articles, not this one
            data.images = self.images(page, body)
            data.videos = self.videos(page, body)
            data.body_html = self.body_html(page, body)
        data.attachments = self.attachments(page)
        return data

    # --- fields ---

    def title(self, page: Page) -> Found:
        if page.meta.get("articletitle"):
            return page.meta["articletitle"], "meta:ArticleTitle"
        found = self.headline(page)
        if found is not None:
            return found[0], found[1]
        head_title = page.head_title
        if not head_title or matching_key(head_title) in {matching_key(name) for name in site_names(page, footer=False)}:
            # no <title>, or only the site's name: og:title, else the page's only h1
            og_title = page.meta.get("og:title")
            if og_title and (not head_title or matching_key(og_title) != matching_key(head_title)):
                return og_title, "meta:og:title"
            h1 = page.all("body h1")
            if len(h1) == 1 and page.text_of(h1[0], spaced=False):
                return page.text_of(h1[0], spaced=False), "dom:h1"
            return (head_title, "dom:<title>") if head_title else None
        # Only a <title>: the CAS suffix (----中国科学院) goes, and any suffix the page says is its site's name.
        cut = TITLE_SUFFIX.sub("", head_title)
        if cut and cut != head_title:
            return cut, "dom:<title>"
        cut = title_without_site_name(head_title, site_names(page))
        return (cut, "dom:<title>-site-name") if cut != head_title else (head_title, "dom:<title>")

    def headline(self, page: Page) -> tuple[str, str, etree._Element | None] | None:
        """The article's heading as (text, provenance, element): the layout's heading when it agrees with
        `<title>`, else the heading-like element (h1–h3, an element whose class or id says title,
        `og:title`, any element whose text starts like `<title>`) that agrees with `<title>` best. None
        when nothing agrees (the `<title>` is then the title); the element is None for og:title."""
        key = f"headline:{self.id}"
        if key not in page.cache:
            page.cache[key] = self._headline(page)
        return page.cache[key]

    def _headline(self, page: Page) -> tuple[str, str, etree._Element | None] | None:
        head_title = page.head_title
        for css in self.TITLE:
            element = page.first(css)
            text = page.text_of(element, spaced=False) if element is not None else ""
            if text:
                if not head_title or headings_agree(text, head_title):
                    return text, f"dom:{css}", element
                break  # the selector hit something else (a sidebar box title): look further
        if not head_title:
            return None
        return agreeing_heading(page, head_title)

    def date(self, page: Page, body: etree._Element | None) -> Found:
        """The publication date as the page shows it, most trustworthy source first: the layout's info
        line; the region between the headline and the body (a labelled date first); the page's date
        metadata; the text above the body; a labelled date anywhere (old pages print it under the
        body); a publication-time variable in the page's scripts. Never a date of a list after the
        body: related items and sidebars carry dates of other articles."""
        shown = None
        info = self.info_element(page)
        if info is not None:
            match = LABELLED_DATE.search(page.text_of(info)) or ANY_DATE.search(page.text_of(info))
            if match:
                shown = date_value(match), "dom:info-line"
        shown = shown or self._headline_region_date(page, body)
        metadata = metadata_date(page)
        if shown and metadata and same_day_more_precise(metadata[0], shown[0]):
            return metadata  # the metadata says the same day, with the time of day the page leaves out
        if shown or metadata:
            return shown or metadata
        if body is not None and body.getroottree().getroot() is page.root:
            # No headline to start from: the date nearest above the body (the header holds title and date).
            header = page.text_before(body)
            labelled = list(LABELLED_DATE.finditer(header))
            if labelled:
                return date_value(labelled[-1]), "dom:header-labelled"
            plain = list(ANY_DATE.finditer(header))
            if plain:
                return plain[-1].group(0), "dom:header-date"
        anywhere = LABELLED_DATE.search(visible_text(page.root, skip=_WITHOUT_LISTS))  # lists: other articles
        if anywhere:
            return date_value(anywhere), "dom:page-labelled"
        return script_date(page)

    def _headline_region_date(self, page: Page, body: etree._Element | None) -> Found:
        headline = self.headline(page)
        if headline is None or headline[2] is None:
            return None
        in_page = body is not None and body.getroottree().getroot() is page.root
        inside = in_page and is_inside(headline[2], body)  # a body container that holds its header
        if in_page and not inside and document_position(headline[2]) > document_position(body):
            return None  # a heading after the body: what follows it are lists of other articles
        region = page.text_after(headline[2], stop=body if in_page and not inside else None, limit=_REGION_LIMIT)
        match = publication_labelled_date(region)
        if match:
            return date_value(match), "dom:header-labelled"
        match = _LABELLED_PARTIAL_DATE.search(region)
        if match:
            completed = complete_date(match.group("value"), reference_dates(page), url_date(page.url))
            if completed:
                return completed, "dom:header-labelled-partial"
        for match in _STANDALONE_DATE.finditer(region):
            # an info line's date: with a time of day, or apart from what follows, or before a label
            # (2019-09-07来源：…); never inside a sentence (2019年2月27日下午，…)
            following = region[match.end():]
            if match.group("clock") or not following or following[0] in _DATE_ENDS or _INFO_LABEL.match(following):
                return dated_text(match.group(0)), "dom:header-date"
        return None

    def source(self, page: Page, body: etree._Element | None) -> Found:
        meta = _CAS_SOURCE_TAIL.sub("", page.meta.get("contentsource", "")).strip()
        if meta:
            return meta, "meta:ContentSource"
        info = self.info_element(page)
        if info is not None:
            written = self._script_written_source(info)
            if written:
                return written, "dom:info-line-script"
            value = labelled_value(SOURCE_LABEL, page.text_of(info))
            if value:
                return value, "dom:info-line"
        element = page.first("#source")
        if element is not None:
            value = (self._script_written_source(element) or labelled_value(SOURCE_LABEL, page.text_of(element))
                     or page.text_of(element))
            if value:
                return value, "dom:#source"
        value = labelled_value(SOURCE_LABEL, page.header_text(body))
        return (value, "dom:header-labelled") if value else None

    def author(self, page: Page, body: etree._Element | None) -> Found:
        if page.meta.get("author"):
            return page.meta["author"], "meta:Author"
        # Only the info line / header: a body sentence like "论文第一作者：…" is not the article's author.
        info = self.info_element(page)
        text = page.text_of(info) if info is not None else page.header_text(body)
        value = labelled_value(AUTHOR_LABEL, text)
        return (value, "dom:info-line" if info is not None else "dom:header-labelled") if value else None

    def editor(self, page: Page, body: etree._Element | None) -> Found:
        value = labelled_value(EDITOR_LABEL, page.text_of(page.root))
        return (value, "dom:page-labelled") if value else None

    def body_path(self, page: Page, body: etree._Element) -> str:
        found = page.first_of(self.BODY)
        return f"dom:{found[0]}" if found and found[1] is body else "dom:?"

    def body_html(self, page: Page, body: etree._Element) -> str:
        return body_fragment(body, page)

    def images(self, page: Page, body: etree._Element) -> list[dict]:
        return images_with_captions(body, page)

    def attachments(self, page: Page) -> list[dict]:
        return attachment_links(page)

    def videos(self, page: Page, body: etree._Element) -> list[dict]:
        """Videos of the body, and of the player between the headline and the body (a video story puts
        its player above the text container)."""
        found = body_videos(body, page)
        headline = self.headline(page)
        if headline is not None and headline[2] is not None and body.getroottree().getroot() is page.root:
            seen = {video["url"] for video in found}
            found = [video for video in players_between(headline[2], body, page) if video["url"] not in seen] + found
        return found

    @staticmethod
    def _script_written_source(info: etree._Element) -> str | None:
        """The 2019–22 layout writes the source with `document.write("…")` inside the 来源 span."""
        for script in info.iter("script"):
            written = _DOCUMENT_WRITE.search(script.text or "")
            if written and written.group("value").strip():
                return written.group("value").strip()
        return None


__all__ = ["ArticleParser", "attachment_links", "headings_agree", "images_with_captions", "title_without_site_name"]
