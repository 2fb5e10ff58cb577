"""One document of a feed read from the database and built: what `cascrawl serve` answers at /feeds/… and
what `cascrawl export --format atom|jsonfeed` writes, the same bytes for the same links.

The articles come through cascrawl.db.reads (the rows /articles lists, newest change first).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime

from cascrawl.db import Database, reads
from cascrawl.feeds import build
from cascrawl.sections import SECTIONS

FORMATS = {"atom": (build.atom, build.ATOM_TYPE), "json": (build.json_feed, build.JSON_FEED_TYPE)}
PAGE_SIZE_MAX = 1000
_SLUG = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)*$")


class UnknownSection(LookupError):
    def __init__(self, section: str, known: list[str]):
        self.section, self.known = section, known
        super().__init__(f"no section {section!r}: the known sections are {', '.join(known)}")


class NoSuchPage(LookupError):
    def __init__(self, number: int, archives: int):
        self.number, self.archives = number, archives
        held = f"archive pages 1 to {archives}" if archives else "no archive page yet (the current feed holds all)"
        super().__init__(f"no archive page {number}: this feed has {held}")


@dataclass(frozen=True)
class Document:
    body: bytes
    media_type: str
    etag: str  # strong, from the bytes
    last_modified: datetime | None  # its newest change; the current document: any change of the feed (None: no article)
    page: build.Page


def page_size(value: str | int) -> int:
    """CASCRAWL_FEED_PAGE_SIZE read: a whole number from 1 to PAGE_SIZE_MAX; ValueError saying so otherwise."""
    try:
        size = int(str(value).strip())
    except ValueError:
        size = 0
    if not 1 <= size <= PAGE_SIZE_MAX:
        raise ValueError(f"feed page size: expected a whole number from 1 to {PAGE_SIZE_MAX}, got {value!r}")
    return size


def known_sections(database: Database) -> list[str]:
    """The catalogue's sections and every section that holds articles."""
    return sorted(set(SECTIONS) | set(reads.article_sections(database)))


def check_section(database: Database, section: str | None) -> None:
    """UnknownSection unless section is None (all), a section of the catalogue, or one that holds articles."""
    if section is None or section in SECTIONS:
        return
    if not _SLUG.match(section) or not reads.count_articles(database, _filters(section)):
        raise UnknownSection(section, known_sections(database))


def archives(database: Database, section: str | None, size: int) -> int:
    return build.archive_count(reads.count_articles(database, _filters(section)), size)


def document(database: Database, kind: str, section: str | None, number: int | None, size: int,
             links: build.Links) -> Document:
    """The current document (number None) or archive `number` of the feed of `section` (None: all sections),
    as `kind` ("atom" or "json"). NoSuchPage for an archive the feed does not have. The section is not
    checked here (check_section)."""
    filters = _filters(section)
    total = reads.count_articles(database, filters)
    page = build.Page(number, build.archive_count(total, size))
    if number is not None and not 1 <= number <= page.archives:
        raise NoSuchPage(number, page.archives)
    skip, limit = build.window(page, total, size)
    articles = reads.feed_articles(database, filters, skip=skip, limit=limit) if limit else []
    updated = None
    if articles and page.is_archive:
        updated = articles[0].updated_at  # its newest change: the pages run in change order
    elif articles:  # the current document: any change, a withdrawal included, is its change
        updated = reads.latest_change(database, replace(filters, tombstones=True))
    make, media_type = FORMATS[kind]
    body = make(build.Feed(section), page, articles, updated, links)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Document(body, media_type, etag, updated, page)


def _filters(section: str | None) -> reads.ArticleFilter:
    return reads.ArticleFilter(sections=(section,) if section else ())
