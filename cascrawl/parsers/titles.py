"""Titles: which heading of a page is the article's title by its `<title>`, and the `<title>` without the
site's name (`标题_某某网`, `标题----中国科学院`). Pure functions of a parsed page (cascrawl.parsers.base)."""

from __future__ import annotations

import re

from lxml import etree

from cascrawl.boilerplate import matching_key
from cascrawl.parsers.base import Page

# A run of separators and a short tail: 标题----中国科学院 (never a long tail: that is the headline after a site prefix)
TITLE_SUFFIX = re.compile(r"\s*[-_|—]{2,}\s*[^-_|—]{0,20}$")
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
    return {matching_key(variant) for variant in (head_title, TITLE_SUFFIX.sub("", head_title)) if variant}


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
