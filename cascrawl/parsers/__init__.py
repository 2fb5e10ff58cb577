"""Page parsers for www.cas.cn: HTML + URL in, plain data out. No Scrapy, no database.

Article layouts are tried in order (`ARTICLE_PARSERS`); the first that recognises the page parses
it; the generic extractor takes what none recognises, and says so in the provenance.
"""

from __future__ import annotations

from cascrawl.parsers.base import ArticleData, Page
from cascrawl.parsers.generic import GenericArticle
from cascrawl.parsers.layouts import CurrentArticle, MidArticle, OldArticle, ReservedCopy
from cascrawl.parsers.listing import ListingEntry, ListingPage, parse_listing

GENERIC = GenericArticle()
ARTICLE_PARSERS = (ReservedCopy(), CurrentArticle(), MidArticle(), OldArticle(), GENERIC)


def parse_article(html: str, url: str) -> ArticleData:
    page = Page(html, url)
    parser = next(p for p in ARTICLE_PARSERS if p.matches(page))
    return parser.parse(page)


__all__ = ["ARTICLE_PARSERS", "GENERIC", "ArticleData", "ListingEntry", "ListingPage", "parse_article", "parse_listing"]
