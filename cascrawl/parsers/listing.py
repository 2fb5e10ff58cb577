"""Listing pages: the current template (`ul.gl_list2`), the old one of deep pages (`#D_mainR`), and
any other list of article links; plus the TRS pager (page count in a script, links when present)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import ClassVar
from urllib.parse import urljoin

from lxml import etree

from cascrawl.dates import parse_datetime
from cascrawl.hosts import host_of
from cascrawl.parsers.base import ANY_DATE, Page, visible_text
from cascrawl.urls import parse_article_url, site_link

_PAGE_COUNT = re.compile(r"(?:countPage\s*=\s*|createPageHTML\(\s*)(\d+)")
_PAGER_LINK = re.compile(r"(?:^|/)index(?:_\d+)?\.s?html?$")


@dataclass(slots=True)
class ListingEntry:
    url: str  # where to fetch it (on the crawled copy)
    canonical_url: str
    title: str  # whole title: the link's title attribute beats its (possibly cut) text
    date: date | None


@dataclass(slots=True)
class ListingPage:
    parser: str
    entries: list[ListingEntry]
    page_count: int | None  # from the TRS pager script; None when the page has no pager
    page_links: list[str]  # pager links present in the markup
    offsite_links: int  # entries pointing off the site, ignored
    offsite_hosts: list[str]  # their hosts (host[:port]), each once


class ListingParser:
    name: ClassVar[str] = "cas.listing"
    version: ClassVar[str] = "0"
    ITEMS: ClassVar[str] = "li"  # CSS selector of the entries

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    def matches(self, page: Page) -> bool:
        return bool(page.all(self.ITEMS))

    def items(self, page: Page) -> Iterable[etree._Element]:
        return page.all(self.ITEMS)


class CurrentListing(ListingParser):
    """`ul.gl_list2` › `div#content` › `li`: `<span>YYYY-MM-DD</span><a title="whole title">`."""

    name, version = "cas.listing.current", "2019"
    ITEMS = "ul.gl_list2 li"


class OldListing(ListingParser):
    """Deep pages: `div#D_mainR div.ztlb_ld_mainR_box01_list ul li`, dates like 2016/04/20."""

    name, version = "cas.listing.old", "2014"
    ITEMS = "div#D_mainR div.ztlb_ld_mainR_box01_list li"


class AnyListing(ListingParser):
    """Any `li` holding a link to an article path: the mega-menu has none, so it is never the list."""

    name, version = "generic.listing", "1"
    ITEMS = "li"


LISTING_PARSERS: tuple[ListingParser, ...] = (CurrentListing(), OldListing(), AnyListing())


def parse_listing(html: str, url: str, base_url: str) -> ListingPage:
    page = Page(html, url)
    parser = next((p for p in LISTING_PARSERS if p.matches(page)), LISTING_PARSERS[-1])  # no `li` at all: no entries
    entries: list[ListingEntry] = []
    seen: set[str] = set()
    offsite = 0
    offsite_hosts: list[str] = []
    for item in parser.items(page):
        anchor = next((a for a in item.iter("a") if a.get("href")), None)
        if anchor is None:
            continue
        target = site_link(anchor.get("href"), url, base_url)
        if target is None:
            href = anchor.get("href", "").strip()
            if href.startswith(("http:", "https:", "//")):
                offsite += 1
                host = host_of(urljoin(url, href))
                if host not in offsite_hosts:
                    offsite_hosts.append(host)
            continue
        ref = parse_article_url(target)
        if ref is None or ref.canonical_url in seen:
            continue
        seen.add(ref.canonical_url)
        title = " ".join((anchor.get("title") or "").split()) or visible_text(anchor, spaced=False)
        entries.append(ListingEntry(target, ref.canonical_url, title, _entry_date(item)))

    count = _PAGE_COUNT.search(html or "")
    page_links: list[str] = []
    for anchor in page.root.iter("a"):
        href = (anchor.get("href") or "").split("?")[0]
        if _PAGER_LINK.search(href):
            target = site_link(href, url, base_url)
            if target and target not in page_links:
                page_links.append(target)
    return ListingPage(
        parser=parser.id,
        entries=entries,
        page_count=int(count.group(1)) if count else None,
        page_links=page_links,
        offsite_links=offsite,
        offsite_hosts=offsite_hosts,
    )


def _entry_date(item: etree._Element) -> date | None:
    """The entry's date, from its spans first (the link text may hold numbers too)."""
    for node in [*item.iter("span"), item]:
        match = ANY_DATE.search(visible_text(node))
        if match:
            parsed = parse_datetime(match.group(0))
            if parsed:
                return parsed[0].date()
    return None
