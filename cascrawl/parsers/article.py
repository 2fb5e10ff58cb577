"""The article parser every layout builds on: field priority meta -> layout DOM -> generic fallbacks.

Subclasses name their selectors as class constants and override a field method only where their
layout differs. Each field method returns `(value, provenance path)` or None.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import ClassVar
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from cascrawl.boilerplate import matching_key
from cascrawl.dates import CAS_DATE, complete_date, dated_text, parse_datetime, timestamp_text
from cascrawl.parsers.base import (
    ANY_DATE, AUTHOR_LABEL, DATE_LABEL, EDITOR_LABEL, LABELLED_DATE, SOURCE_LABEL, ArticleData, Found, Page, label,
    labelled_value, visible_text,
)
from cascrawl.parsers.pruning import drop_keeping_tail
from cascrawl.urls import parse_article_url

# A run of separators and a short tail: 标题----中国科学院 (never a long tail: that is the headline after a site prefix)
_TITLE_SUFFIX = re.compile(r"\s*[-_|—]{2,}\s*[^-_|—]{0,20}$")
# What separates a title from a site's name in <title> (after NFKC: full-width forms are ASCII here).
_TITLE_SEPARATORS = frozenset(" -_|—–―~·•:丨【[(<《】])>》")
# Separators between the segments of a <title> suffix (headline_column_site): never a plain space.
_SEGMENT_SEPARATOR = re.compile(r"\s*(?:[-_|—–―~·•丨]+)\s*")
_SITE_SEGMENT_MAX = 20  # a column or site name is short; a longer segment is part of the headline
# Title-like elements, besides h1–h3: a class or id that says title (Title, article-title, h-title, news-tit).
_TITLE_LIKE = etree.XPath(
    "//body//*[@class][contains(@class, 'tit') or contains(@class, 'Tit') or contains(@class, 'TIT')"
    " or contains(@class, 'headline') or contains(@class, 'Headline')]"
    " | //body//*[@id][contains(@id, 'tit') or contains(@id, 'Tit') or contains(@id, 'TIT')]"
)
_HEADING_TIERS = {"h1": 0, "h2": 1, "h3": 2}  # then the title-like elements (3), og:title (4), any element (5)
# Any element whose text starts like the <title>: the last place a headline can be (<td class="bt">, <font>).
_STARTS_LIKE = etree.XPath("//body//text()[starts-with(normalize-space(.), $start)]")
_START_LENGTH = 4
# Who the footer says owns the site: © 2010 - 2016 某某网, Copyright © 某某, 某某 版权所有, 版权所有：某某
_OWNER_AFTER = re.compile(r"(?:©|\(c\)|copyright|版权所有|版權所有)\s*[:：©]?\s*(?:\d{4}\s*(?:[-–~至]\s*\d{4})?\s*)?"
                          r"(?P<owner>[^\s|,，.。:：©]{2,20})", re.IGNORECASE)
_OWNER_BEFORE = re.compile(r"(?P<owner>[^\s|,，.。:：©]{2,20})\s*(?:版权所有|版權所有)")
_CAS_SOURCE_TAIL = re.compile(r"\s*[,，]\s*中国科学院\s*$")
_DOCUMENT_WRITE = re.compile(r"document\.write\(\s*['\"](?P<value>.*?)['\"]\s*\)")
_ATTACHMENT_LABELS = ("附件下载", "附件下載", "附件：", "附件:")
# Never part of an article fragment: scripts, embedded players, widgets, forms.
_REMOVED_FROM_BODY = ("script", "style", "noscript", "iframe", "object", "embed", "form", "button", "input", "select", "link", "meta")
_CAPTION_MAX = 80
# The src of an embedded player (when the iframe does not say allowfullscreen).
_PLAYER_SOURCE = re.compile(r"player|video|/vod/|/embed|\.(?:mp4|m3u8|flv|webm)(?:$|\?)", re.IGNORECASE)
# A label heading a block of other articles (a short line, alone in its element).
_LABEL_MAX = 12
# A page read without its lists (ul, ol, dl, select): related items, sidebars and menus.
_WITHOUT_LISTS = frozenset(("script", "style", "noscript", "ul", "ol", "dl", "select"))
_RELATED_LABEL = re.compile(
    r"[【\[\s]*(?:(?:更多|相关|热门|推荐|精彩|往期|其他|其它)(?:视频|新闻|阅读|文章|报道|链接|推荐|回顾|专题)|视频推荐|延伸阅读"
    r"|推荐阅读|猜你喜欢|更多精彩)"
    r"[】\]\s:：>»›+＋]*"
)
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
_PUBLISHED_DATE = re.compile(
    rf"{label('发布时间', '發布時間', '发布日期', '發布日期', '发表时间', '發表時間', '发表日期', '出版时间', '发稿时间')}"
    rf"\s*[:：]\s*(?P<value>{CAS_DATE})"
)
_NOT_PUBLISHED = ("更新", "修改", "修订")
_DATE_ENDS = frozenset(" |·/]）)】")
_INFO_LABEL = re.compile(r"(?:来源|來源|作者|编辑|編輯|责任编辑|浏览|阅读|点击|字号|分享|发布|稿源|记者)")
# Date metadata, publication first (modification dates are no publication dates).
_DATE_META = tuple((name.lower(), name) for name in (
    "PubDate", "publishdate", "article:published_time", "og:release_date", "firstpublishedtime", "datePublished",
    "publish_time", "publishtime", "publication_date", "DC.date.issued", "DC.date", "date",
))
_URL_DATE = re.compile(r"(?<!\d)(?P<year>(?:19|20)\d{2})[/-]?(?P<month>[01]\d)[/-]?(?P<day>[0-3]\d)(?!\d)")
_DATE_ISH_NAME = re.compile(r"date|time|publish", re.IGNORECASE)
# A publication-time variable in a script: a name that says publish/create/post time, then a Unix
# timestamp or a written date.
_SCRIPT_DATE = re.compile(
    r"(?<![\w.])[\"']?(?P<name>(?:publish|pub|post|create|release)_?(?:time|date|at)|pubdate|ctime|ct|datepublished)"
    r"[\"']?\s*[:=]\s*[\"']?(?P<value>1\d{9}(?!\d)|(?:19|20)\d{2}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?)",
    re.IGNORECASE,
)


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
        cut = _TITLE_SUFFIX.sub("", head_title)
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
                shown = _date_value(match), "dom:info-line"
        shown = shown or self._headline_region_date(page, body)
        metadata = metadata_date(page)
        if shown and metadata and _same_day_more_precise(metadata[0], shown[0]):
            return metadata  # the metadata says the same day, with the time of day the page leaves out
        if shown or metadata:
            return shown or metadata
        if body is not None and body.getroottree().getroot() is page.root:
            # No headline to start from: the date nearest above the body (the header holds title and date).
            header = page.text_before(body)
            labelled = list(LABELLED_DATE.finditer(header))
            if labelled:
                return _date_value(labelled[-1]), "dom:header-labelled"
            plain = list(ANY_DATE.finditer(header))
            if plain:
                return plain[-1].group(0), "dom:header-date"
        anywhere = LABELLED_DATE.search(visible_text(page.root, skip=_WITHOUT_LISTS))  # lists: other articles
        if anywhere:
            return _date_value(anywhere), "dom:page-labelled"
        return script_date(page)

    def _headline_region_date(self, page: Page, body: etree._Element | None) -> Found:
        headline = self.headline(page)
        if headline is None or headline[2] is None:
            return None
        in_page = body is not None and body.getroottree().getroot() is page.root
        inside = in_page and _inside(headline[2], body)  # a body container that holds its header
        if in_page and not inside and _document_position(headline[2]) > _document_position(body):
            return None  # a heading after the body: what follows it are lists of other articles
        region = page.text_after(headline[2], stop=body if in_page and not inside else None, limit=_REGION_LIMIT)
        match = publication_labelled_date(region)
        if match:
            return _date_value(match), "dom:header-labelled"
        match = _LABELLED_PARTIAL_DATE.search(region)
        if match:
            completed = complete_date(match.group("value"), _reference_dates(page), _url_date(page.url))
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
        return sanitized_fragment(body, page)

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
            found = [video for video in _players_between(headline[2], body, page) if video["url"] not in seen] + found
        return found

    @staticmethod
    def _script_written_source(info: etree._Element) -> str | None:
        """The 2019–22 layout writes the source with `document.write("…")` inside the 来源 span."""
        for script in info.iter("script"):
            written = _DOCUMENT_WRITE.search(script.text or "")
            if written and written.group("value").strip():
                return written.group("value").strip()
        return None


def headings_agree(heading: str, head_title: str) -> bool:
    """Whether a page heading is the article's title by its `<title>`: the `<title>` is the heading cut
    short (`…`), or the heading followed by a suffix after a separator (`标题_某某网`, `标题 | 某站`,
    `标题----中国科学院`) — any site's name, spam included. Compared in the form boilerplate lines are
    matched in (glosses removed, Simplified, NFKC), so a glossed Traditional heading agrees with its
    copy's `<title>` however each of them is written."""
    if not matching_key(head_title):
        return True  # an empty <title> contradicts nothing
    agreement = _best_agreement(matching_key(heading), _title_keys(head_title))
    return agreement is not None and agreement[0] < 2  # a layout's heading never agrees by a site prefix alone


def _title_keys(head_title: str) -> set[str]:
    """The `<title>` as written and without its CAS suffix (`标题…----中国科学院` is a cut-short title too)."""
    return {matching_key(variant) for variant in (head_title, _TITLE_SUFFIX.sub("", head_title)) if variant}


def _best_agreement(heading_key: str, title_keys: set[str]) -> tuple[int, int] | None:
    found = [a for title_key in title_keys if (a := _agreement(heading_key, title_key)) is not None]
    return min(found) if found else None


def _agreement(heading: str, head_title: str) -> tuple[int, int] | None:
    """How a heading agrees with `<title>` (both matching keys), best first, or None:
    (0, -length) the heading, or the heading and a suffix after a separator (the longest heading wins);
    (1, length) the `<title>` cut short, or an element holding the heading and more (the shortest wins);
    (2, -length) a site prefix and the heading (明日股市预测--标题, 站名 - 标题 - 栏目), when the heading is most
    of the `<title>`."""
    if not heading:
        return None
    if head_title.startswith(heading):
        rest = head_title[len(heading):]
        if not rest or rest[0] in _TITLE_SEPARATORS:
            return 0, -len(heading)
    cut = head_title.rstrip("…. ")
    if cut and heading.startswith(cut):
        return 1, len(heading)
    if 2 * len(heading) > len(head_title):  # a site prefix, and perhaps a suffix too (站名 - 标题 - 栏目)
        at = head_title.find(heading, 1)
        end = at + len(heading)
        if at > 0 and head_title[at - 1] in _TITLE_SEPARATORS and (end == len(head_title) or head_title[end] in _TITLE_SEPARATORS):
            return 2, -len(heading)
    return None


def agreeing_heading(page: Page, head_title: str) -> tuple[str, str, etree._Element | None] | None:
    """The heading-like element (or `og:title`) that agrees with `<title>` best: by how it agrees, then
    h1 before h2 before h3 before title-like elements before og:title before any element, then document
    order. A page name (`og:site_name` and the like) is never the headline. Looked for in that order,
    and no further once a heading agrees in the best way (the later kinds could only rank below it)."""
    title_keys = _title_keys(head_title)
    names = {matching_key(name) for name in site_names(page, footer=False)}
    best, best_rank = None, None
    seen: set[int] = set()
    for stage in range(3):
        if stage == 0:
            candidates = [(e, _HEADING_TIERS[e.tag]) for e in page.root.iter("h1", "h2", "h3")]
        elif stage == 1:
            candidates = [(e, 3) for e in _TITLE_LIKE(page.root) if id(e) not in seen]
            candidates += [(None, 4)] if page.meta.get("og:title") else []
        else:
            candidates = [(e, 5) for e in _elements_starting_like(page, head_title, seen)]
        for order, (element, tier) in enumerate(candidates):
            seen.add(id(element))
            text = page.meta["og:title"] if element is None else page.text_of(element, spaced=False)
            if not text or len(text) > 2 * len(head_title) + 40:  # a whole box whose class says title
                continue
            key = matching_key(text)
            agreement = _best_agreement(key, title_keys) if key not in names else None
            if agreement is None:
                continue
            if agreement[0] == 1 and tier == 5 and not head_title.rstrip().endswith(("…", "...")):
                continue  # a paragraph that merely opens with the headline is no heading
            rank = (agreement[0], tier, agreement[1], order)
            if best_rank is None or rank < best_rank:
                best, best_rank = (text, _element_path(element), element), rank
        if best_rank is not None and best_rank[0] == 0:
            break
    return best


def _elements_starting_like(page: Page, head_title: str, seen: set[int]) -> list[etree._Element]:
    start = " ".join(head_title.split())[:_START_LENGTH]
    if len(start) < _START_LENGTH:
        return []
    found = []
    for text in _STARTS_LIKE(page.root, start=start):
        element = text.getparent()
        if text.is_tail or element is None or id(element) in seen or element.tag in ("script", "style", "a"):
            continue  # a link is a teaser of an article, or a breadcrumb: never the headline itself
        seen.add(id(element))
        found.append(element)
    return found


def _element_path(element: etree._Element | None) -> str:
    if element is None:
        return "meta:og:title"
    classes = (element.get("class") or "").split()
    return f"dom:{element.tag}" + (f".{classes[0]}" if classes else "")


def site_names(page: Page, footer: bool = True) -> list[str]:
    """What the page says its site is called: og:site_name, the SiteName / application-name meta, and the
    owner the footer's © or 版权所有 line names."""
    names = [page.meta.get(name, "") for name in ("og:site_name", "sitename", "application-name")]
    if footer:
        text = page.page_text
        for pattern in (_OWNER_AFTER, _OWNER_BEFORE):
            names.extend(match.group("owner") for match in pattern.finditer(text))
    return [name for name in names if name and not name.isdigit()]


def title_without_site_name(head_title: str, names: list[str]) -> str:
    """`<title>` without its suffix when the suffix is recognisably the site's name: the `<title>` cut
    at the first separator after which every segment is short and one of them is (or holds, or is
    part of) a name the page gives its site. Without such a name nothing is cut: a separator alone
    proves nothing (`棱镜|数据业大整顿…` is one headline)."""
    keys = [matching_key(name) for name in names if len(name) >= 2]
    if not keys:
        return head_title
    cuts = list(_SEGMENT_SEPARATOR.finditer(head_title))
    for position, cut in enumerate(cuts):
        if cut.start() == 0:
            continue
        tail = [segment for segment in _SEGMENT_SEPARATOR.split(head_title[cut.end():]) if segment]
        if not tail or any(len(segment) > _SITE_SEGMENT_MAX for segment in tail):
            continue
        segments = [matching_key(segment) for segment in tail]
        if any(name in segment or segment in name for segment in segments if len(segment) >= 2 for name in keys):
            return head_title[:cut.start()].strip() or head_title
    return head_title


def publication_labelled_date(text: str) -> re.Match | None:
    """The labelled date of the publication: 发布时间/发表于… before a plain 时间/日期, and never the
    date of an update (更新时间：…, 修改日期：…)."""
    match = _PUBLISHED_DATE.search(text)
    if match:
        return match
    return next((m for m in LABELLED_DATE.finditer(text) if not text[max(0, m.start() - 2):m.start()] in _NOT_PUBLISHED), None)


def metadata_date(page: Page) -> Found:
    """The publication date the page's metadata gives: meta tags (CAS PubDate, OpenGraph article, the
    Chinese CMS names, itemprop datePublished), JSON-LD `datePublished`, `<time datetime>`."""
    if "metadata_date" not in page.cache:
        page.cache["metadata_date"] = _metadata_date(page)
    return page.cache["metadata_date"]


def _metadata_date(page: Page) -> Found:
    for key, name in _DATE_META:
        value = page.meta.get(key)
        if value and ANY_DATE.search(value):
            return value, f"meta:{name}"
    for script in page.root.iter("script"):
        if (script.get("type") or "").strip().lower() == "application/ld+json":
            value = _json_ld_date(script.text or "")
            if value:
                return value, "meta:json-ld:datePublished"
    for element in page.root.iter("time"):
        value = (element.get("datetime") or "").strip()
        if value and ANY_DATE.search(value):
            return value, "meta:<time datetime>"
    return None


def _json_ld_date(text: str) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            value = node.get("datePublished")
            if isinstance(value, str) and ANY_DATE.search(value):
                return value
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def script_date(page: Page) -> Found:
    """The last resort: a publication-time variable in the page's scripts (`var ct = "1581517074"`,
    `"publish_time": "2020-02-12 22:17"`), for pages that show only 昨天 or 10-08."""
    for script in page.root.iter("script"):
        match = _SCRIPT_DATE.search(script.text or "")
        if match:
            value = match.group("value")
            return (timestamp_text(int(value)) if value.isdigit() else value), f"script:{match.group('name')}"
    return None


def _reference_dates(page: Page) -> list[str]:
    """Full dates the page's metadata gives (published, updated, generated): the year of a date shown
    without one comes from them."""
    found = [value for name, value in page.meta.items() if _DATE_ISH_NAME.search(name) and ANY_DATE.search(value)]
    in_scripts = script_date(page)
    return found + ([in_scripts[0]] if in_scripts else [])


def _url_date(url: str) -> date | None:
    """The date a URL's path carries (CAS t20201122_…, /2019/09/07/, /20190907/), if any."""
    ref = parse_article_url(url)
    if ref and ref.url_date:
        return ref.url_date
    match = _URL_DATE.search(urlsplit(url).path)
    if match:
        try:
            return date(int(match.group("year")), int(match.group("month")), int(match.group("day")))
        except ValueError:
            return None
    return None


def _same_day_more_precise(candidate: str, shown: str) -> bool:
    parsed, other = parse_datetime(candidate), parse_datetime(shown)
    return bool(parsed and other and parsed[0].date() == other[0].date() and parsed[1] and not other[1])


def date_disagreement(chosen: Found, metadata: Found) -> str | None:
    """When the date taken and the page's metadata date lie more than a day apart: which won, and why."""
    if not chosen or not metadata or chosen[1] == metadata[1]:
        return None
    days = [parse_datetime(value) for value, _ in (chosen, metadata)]
    if None in days or abs((days[0][0].date() - days[1][0].date()).days) <= 1:
        return None
    return (f"{chosen[1]} {days[0][0].date()} over {metadata[1]} {days[1][0].date()}: "
            "the date the page shows with its headline wins over its metadata")


def _date_value(match: re.Match) -> str:
    return match.group("value") if "value" in match.groupdict() else match.group(0)


def sanitized_fragment(body: etree._Element, page: Page) -> str:
    """The body as an HTML fragment: scripts and widgets removed, links and images absolute."""
    fragment = lxml.html.fromstring(etree.tostring(body, encoding="unicode", with_tail=False))
    for element in list(fragment.iter(*_REMOVED_FROM_BODY)):
        element.drop_tree()
    for element in list(fragment.iter(etree.Comment)):
        element.drop_tree()
    fragment.make_links_absolute(page.link_base, resolve_base_href=False)
    return etree.tostring(fragment, encoding="unicode", method="html")


def images_with_captions(body: etree._Element, page: Page) -> list[dict]:
    """Images of the body with their caption: the short text block right after the image's block,
    else right before it (CAS puts captions on either side)."""
    images = []
    for img in body.iter("img"):
        src = (img.get("src") or "").strip()
        if not src or src.startswith("data:"):
            continue
        block = _image_block(img, body)
        caption = None
        if block is not None and not visible_text(block):
            caption = _caption_near(block, "next") or _caption_near(block, "previous")
        images.append({"url": page.absolute(src), "caption": caption})
    return images


def body_videos(body: etree._Element, page: Page) -> list[dict]:
    """Videos of the body: `<video src>` or its `<source src>` children (the first playable one, with
    its MIME type when given), and the poster image; an embedded player (`<iframe>` or `<embed>` of a
    video page or file) as a video of type "player". Some CAS stories are only a video and a caption."""
    return [video for element in body.iter("video", "iframe", "embed") if (video := _video_of(element, page))]


def _video_of(element: etree._Element, page: Page) -> dict | None:
    if element.tag == "video":
        src, kind = (element.get("src") or "").strip(), None
        if not src:
            source = next((s for s in element.iter("source") if (s.get("src") or "").strip()), None)
            if source is None:
                return None
            src, kind = source.get("src").strip(), (source.get("type") or "").strip() or None
        poster = (element.get("poster") or "").strip()
        return {"url": page.absolute(src), "type": kind, "poster": page.absolute(poster) if poster else None}
    src = (element.get("src") or element.get("data-src") or "").strip()
    if not src or src.startswith(("javascript:", "about:", "data:")):
        return None
    if element.get("allowfullscreen") is None and not _PLAYER_SOURCE.search(src):
        return None  # an advert, a map, a form: not a player
    return {"url": page.absolute(src), "type": "player", "poster": None}


def _players_between(headline: etree._Element, body: etree._Element, page: Page) -> list[dict]:
    """Videos after the headline and before the body, in document order."""
    candidates = [e for e in page.root.iter("video", "iframe", "embed") if not _inside(e, body)]
    if not candidates:
        return []
    start, end = _document_position(headline), _document_position(body)
    return [video for element in candidates
            if start < _document_position(element) < end and not _inside(element, headline)
            if (video := _video_of(element, page))]


_POSITION = etree.XPath("count(preceding::*) + count(ancestor::*)")


def _document_position(element: etree._Element) -> float:
    return _POSITION(element)


def _inside(element: etree._Element, container: etree._Element) -> bool:
    return any(node is container for node in element.iterancestors())


def related_blocks(body: etree._Element) -> list[etree._Element]:
    """Blocks of the body headed by a label such as 更多视频, 相关新闻, 延伸阅读: the box the label heads
    (its first line, in a box without sentences), else the label and the items after it up to the next
    prose (teasers of other articles carry no sentences)."""
    blocks: list[etree._Element] = []
    for heading in _label_elements(body):
        if any(_inside(heading, b) or heading is b for b in blocks):
            continue
        box = heading
        if heading.getprevious() is None and heading.getnext() is not None:
            while box.getparent() is not body and not _prose(box.getparent()):
                box = box.getparent()
        if box is not heading:
            blocks.append(box)
            continue
        blocks.append(heading)
        for sibling in heading.itersiblings():  # the label alone in its line: the items that follow it
            if not isinstance(sibling.tag, str) or _prose(sibling):
                break
            blocks.append(sibling)
    return blocks


_LABEL_WORDS = etree.XPath(
    ".//text()[contains(., '更多') or contains(., '相关') or contains(., '热门') or contains(., '推荐')"
    " or contains(., '精彩') or contains(., '延伸') or contains(., '猜你')]"
)


def _label_elements(body: etree._Element) -> list[etree._Element]:
    """The elements of the body whose whole text is a related-block label (found from the text nodes
    that hold one of its words: a walk over every element would cost more than the rest of the parse)."""
    found = []
    for text in _LABEL_WORDS(body):
        if len(text.strip()) > _LABEL_MAX or text.is_tail:
            continue
        element = text.getparent()
        while element is not None and element is not body:
            whole = visible_text(element, spaced=False)
            if len(whole) > _LABEL_MAX:
                break
            if _RELATED_LABEL.fullmatch(whole):
                if element not in found:
                    found.append(element)
                break
            element = element.getparent()
    return found


def _prose(element: etree._Element) -> bool:
    return any(mark in visible_text(element) for mark in "。！？")


def _image_block(img: etree._Element, body: etree._Element) -> etree._Element | None:
    node = img
    while node is not None and node is not body:
        parent = node.getparent()
        if node.tag in ("p", "div", "center", "figure", "span", "a", "font", "strong") and parent is not None:
            if node.tag in ("p", "div", "center", "figure") or parent is body:
                return node
        node = parent
    return img if img.getparent() is body else None


def _caption_near(block: etree._Element, direction: str) -> str | None:
    sibling = block.getnext() if direction == "next" else block.getprevious()
    while sibling is not None and not isinstance(sibling.tag, str):
        sibling = sibling.getnext() if direction == "next" else sibling.getprevious()
    if sibling is None or list(sibling.iter("img")):
        return None
    text = visible_text(sibling)
    if not text or len(text) > _CAPTION_MAX:
        return None
    # A bold-only line is a subheading, not a caption.
    bold = "".join(visible_text(b) for b in sibling.iter("strong", "b"))
    if bold and bold.replace(" ", "") == text.replace(" ", ""):
        return None
    # A caption before the image must not end a paragraph of prose running into it.
    if direction == "previous" and text.endswith(("。", "！", "？", "：")) and not text.endswith(("摄。", "图。")):
        return None
    return text


def attachment_links(page: Page) -> list[dict]:
    """Links of the 附件下载 block: inside the labelled element, else in the siblings that follow it."""
    if not any(word in page.all_text for word in _ATTACHMENT_LABELS):
        return []  # most pages: no text node holds a label, so no element's text or tail does
    for element in page.root.iter():
        if not isinstance(element.tag, str) or element.tag in ("script", "style", "title", "head"):
            continue
        if any(word in (element.text or "") for word in _ATTACHMENT_LABELS):
            anchors = _links(element)
            following = element.itersiblings()
        elif any(word in (element.tail or "") for word in _ATTACHMENT_LABELS):
            anchors, following = [], element.itersiblings()
        else:
            continue
        if not anchors:
            for sibling in following:  # the links that follow the label, up to the first thing that is not one
                found = _links(sibling)
                if not found:
                    break
                anchors.extend(found)
        return [{"url": page.absolute(a.get("href")), "name": visible_text(a) or None} for a in anchors]
    return []


def _links(element: etree._Element) -> list[etree._Element]:
    if not isinstance(element.tag, str):
        return []
    return [
        a for a in element.iter("a")
        if (a.get("href") or "").strip() and not a.get("href").strip().startswith(("javascript:", "#", "mailto:"))
    ]
