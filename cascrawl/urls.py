"""URLs of www.cas.cn: article-path parsing, canonical URLs, same-site link resolution.

The same article is reachable as http/https, on www.cas.cn and www.cas.ac.cn, and on copies of the
site (mirrors, re-serving domains, our fixture server). It is stored under one canonical URL:
``https://www.cas.cn/<section>/<YYYYMM>/t<YYYYMMDD>_<docid>.shtml``, which `parse_article_url` alone decides
(the spider, the copies step and `cascrawl extract` ask it: `stored_url`, `article_ref`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin, urlsplit, urlunsplit

CANONICAL_BASE = "https://www.cas.cn"

# Hosts that are www.cas.cn itself; a link to one of them is a link into whatever copy we crawl.
SITE_HOSTS = frozenset({"www.cas.cn", "cas.cn", "www.cas.ac.cn", "cas.ac.cn"})

# /<section, one or more levels>/<YYYYMM>/t<YYYYMMDD>_<docid>.shtml (copies also use .html/.htm)
_ARTICLE_PATH = re.compile(
    r"^/(?P<section>[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*)"
    r"/(?P<month>\d{6})/t(?P<day>\d{8})_(?P<docid>\d+)\.s?html?$"
)
_LISTING_PAGE = re.compile(r"^index(?:_(?P<number>\d+))?\.s?html?$")


@dataclass(frozen=True, slots=True)
class ArticleRef:
    """What an article URL says by itself."""

    section: str
    docid: int
    url_date: date | None  # the date in the file name; the page's own date may differ by a day
    canonical_url: str


def parse_article_url(url: str) -> ArticleRef | None:
    """Return the article reference of an article URL on any host, or None for other URLs."""
    path = urlsplit(url).path
    match = _ARTICLE_PATH.match(path)
    if match is None:
        return None
    section, month, day, docid = match.group("section", "month", "day", "docid")
    try:
        url_date = date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except ValueError:
        url_date = None
    canonical = f"{CANONICAL_BASE}/{section}/{month}/t{day}_{docid}.shtml"
    return ArticleRef(section=section, docid=int(docid), url_date=url_date, canonical_url=canonical)


def canonical_article_url(url: str) -> str | None:
    ref = parse_article_url(url)
    return ref.canonical_url if ref else None


def stored_url(url: str) -> str:
    """The URL an article fetched from `url` is stored under: its canonical URL, or `url` itself when its
    path is no article path (validation then rejects the article for it)."""
    return canonical_article_url(url) or url


def article_ref(url: str | None, fetched_url: str | None = None) -> ArticleRef | None:
    """What an article's URLs say: its stored URL's reference, else that of the URL it was fetched from."""
    return parse_article_url(url or "") or parse_article_url(fetched_url or "")


def normalize_base_url(base_url: str) -> str:
    """`https://www.cas.cn/` -> `https://www.cas.cn`; a base without scheme is refused."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base URL must look like https://host[:port][/path], got {base_url!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def section_url(base_url: str, section: str) -> str:
    return f"{normalize_base_url(base_url)}/{section.strip('/')}/"


def site_link(href: str, page_url: str, base_url: str) -> str | None:
    """Resolve a link found on `page_url` to a URL inside the crawled copy, or None if off-site.

    Relative (`./`, `../`) links resolve against the page; absolute and protocol-relative links to
    www.cas.cn (or its aliases) are moved onto the crawled base, so a mirror crawl stays on the mirror.
    """
    href = (href or "").strip()
    if not href or href.startswith(("javascript:", "mailto:", "#")):
        return None
    absolute = urljoin(page_url, href)
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https"):
        return None
    base = urlsplit(normalize_base_url(base_url))
    host = parts.hostname or ""
    if parts.netloc == base.netloc:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    if host in SITE_HOSTS:
        return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))
    return None


def listing_page_url(first_page_url: str, number: int) -> str:
    """Page 0 is the section URL itself; page k is `index_k.shtml` next to it."""
    if number == 0:
        return first_page_url
    return urljoin(first_page_url, f"index_{number}.shtml")


def listing_page_number(url: str) -> int | None:
    """0 for `…/` or `index.shtml`, k for `index_k.shtml`, None for anything else."""
    path = urlsplit(url).path
    name = path.rsplit("/", 1)[-1]
    if name == "":
        return 0
    match = _LISTING_PAGE.match(name)
    if match is None:
        return None
    return int(match.group("number") or 0)
