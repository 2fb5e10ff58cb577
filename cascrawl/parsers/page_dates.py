"""Publication dates beyond the layout's info line: labelled dates, metadata (meta tags, JSON-LD), dates a
script writes, the date in the URL, and when metadata and the page disagree. Pure functions of a page."""

from __future__ import annotations

import json
import re
from datetime import date
from urllib.parse import urlsplit

from cascrawl.dates import CAS_DATE, parse_datetime, timestamp_text
from cascrawl.parsers.base import ANY_DATE, LABELLED_DATE, Found, Page, label
from cascrawl.urls import parse_article_url

_PUBLISHED_DATE = re.compile(
    rf"{label('发布时间', '發布時間', '发布日期', '發布日期', '发表时间', '發表時間', '发表日期', '出版时间', '发稿时间')}"
    rf"\s*[:：]\s*(?P<value>{CAS_DATE})"
)
_NOT_PUBLISHED = ("更新", "修改", "修订")
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


def reference_dates(page: Page) -> list[str]:
    """Full dates the page's metadata gives (published, updated, generated): the year of a date shown
    without one comes from them."""
    found = [value for name, value in page.meta.items() if _DATE_ISH_NAME.search(name) and ANY_DATE.search(value)]
    in_scripts = script_date(page)
    return found + ([in_scripts[0]] if in_scripts else [])


def url_date(url: str) -> date | None:
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


def same_day_more_precise(candidate: str, shown: str) -> bool:
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


def date_value(match: re.Match) -> str:
    return match.group("value") if "value" in match.groupdict() else match.group(0)
