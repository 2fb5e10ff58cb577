"""The drift report: pages that took the generic path, grouped by where their body and heading were found.

A page no CAS layout recognises is parsed by the generic extractor, which says in the provenance where it
found the body (`generic:div#main>div.article-content`) and the headline (`dom:h1.article-title`,
`meta:og:title`, `dom:<title>`). Pages of one new template share those paths: grouped by them, the run says
"new template? 32 pages, body at `div#main>div.article-content`, heading `h1.article-title`, e.g. …", and
a versioned layout for that template is a small, guided step.

Counted in the crawl's stats, so the run record (crawl_runs.stats) keeps them and the counts of a
distributed crawl's workers add up: `cascrawl/drift/pages/<signature>` (pages per group, at most
CASCRAWL_DRIFT_MAX_GROUPS groups, the rest under `cascrawl/drift/pages/(other)`) and `cascrawl/drift/groups`
(each group's body, heading and first CASCRAWL_DRIFT_EXAMPLES URLs). `drift_groups` reads them back for
`cascrawl runs show` and the run page. Every generic page counts, stored or rejected.

An extension on `item_scraped` (every item, after the last pipeline, in the crawler's process): it reads
the final provenance and keeps the groups seen, which must be one set for the crawl, not one per
extraction worker.
"""

from __future__ import annotations

import re

PAGES = "cascrawl/drift/pages/"
GROUPS = "cascrawl/drift/groups"
OTHER = "(other)"
_GENERIC = "generic"
# A body "path" that is one bare word and no element name is the extractor's name (today's
# `generic:trafilatura`), not where the body is.
_BARE_WORD = re.compile(r"[A-Za-z_][\w-]*")
_ELEMENTS = {"article", "body", "center", "div", "font", "main", "p", "section", "span", "table", "td"}


def signature(provenance: dict | None) -> tuple[str, str] | None:
    """(body, heading) of a page the generic path parsed, from its provenance; None for a layout's page.

    body: the container's path after `generic:` (whatever the generic extractor names there);
    heading: a DOM heading's CSS without `dom:` (`h1.article-title`, `<title>`), a meta source as it is
    (`meta:og:title`); `none` when the page gave no such value."""
    if not isinstance(provenance, dict) or not str(provenance.get("parser") or "").startswith(_GENERIC):
        return None
    body = str(provenance.get("body") or "")
    body = body.split(":", 1)[1] if body.startswith(_GENERIC + ":") else body
    heading = str(provenance.get("title") or "")
    heading = heading[len("dom:"):] if heading.startswith("dom:") else heading
    return body.strip() or "none", heading.strip() or "none"


def signature_key(body: str, heading: str) -> str:
    return f"body {body} | heading {heading}"


class DriftReport:
    """The extension (EXTENSIONS): counts each generic-path item into the crawl's stats."""

    def __init__(self, stats, max_groups: int, examples: int):
        self.stats = stats
        self.max_groups = max(1, max_groups)
        self.examples = max(0, examples)
        self.groups: dict[str, dict] = {}

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy import signals

        from cascrawl.pipelines import setting

        settings = crawler.settings
        report = cls(crawler.stats, int(setting(settings, "CASCRAWL_DRIFT_MAX_GROUPS")),
                     int(setting(settings, "CASCRAWL_DRIFT_EXAMPLES")))
        crawler.signals.connect(report.item_scraped, signal=signals.item_scraped)
        return report

    def item_scraped(self, item, response=None, spider=None) -> None:
        from itemadapter import ItemAdapter

        adapter = ItemAdapter(item)
        found = signature(adapter.get("provenance"))
        if found is None:
            return
        key = signature_key(*found)
        group = self.groups.get(key)
        if group is None and len(self.groups) >= self.max_groups:
            self.stats.inc_value(PAGES + OTHER)  # a bounded report: a page of a template beyond the groups kept
            return
        if group is None:
            group = self.groups[key] = {"body": found[0], "heading": found[1], "examples": []}
        self.stats.inc_value(PAGES + key)
        url = adapter.get("url") or adapter.get("fetched_url")
        if url and len(group["examples"]) < self.examples and url not in group["examples"]:
            group["examples"].append(url)
            self.stats.set_value(GROUPS, {name: {**kept, "examples": list(kept["examples"])}
                                          for name, kept in self.groups.items()})


def drift_groups(stats: dict | None) -> list[dict]:
    """The drift report of a run's stats: [{body, heading, pages, examples}], most pages first. A group whose
    description another worker of a distributed crawl kept has its count, and body and heading from its key."""
    stats = stats or {}
    described = stats.get(GROUPS) if isinstance(stats.get(GROUPS), dict) else {}
    groups = []
    for name, count in stats.items():
        if not name.startswith(PAGES) or not isinstance(count, (int, float)) or isinstance(count, bool):
            continue
        key = name[len(PAGES):]
        kept = described.get(key) if isinstance(described.get(key), dict) else {}
        body, _, heading = key.removeprefix("body ").partition(" | heading ")
        if key == OTHER:
            body, heading = OTHER, OTHER
        groups.append({"body": kept.get("body", body), "heading": kept.get("heading", heading), "pages": int(count),
                       "examples": [str(url) for url in kept.get("examples", [])]})
    return sorted(groups, key=lambda group: (group["body"] == OTHER, -group["pages"], group["body"], group["heading"]))


def describe_group(group: dict, code=lambda text: f"`{text}`", examples: bool = True) -> str:
    """`new template? 32 pages, body at `div.article-content`, heading `h1.article-title`, e.g. URL, URL`.
    `code` marks up a path (the run page makes it <code>); without `examples`, the URLs are left to the caller."""
    pages = f"{group['pages']} page{'s' if group['pages'] != 1 else ''}"
    body, heading = group["body"], group["heading"]
    if body == OTHER:
        return f"{group['pages']} more {pages.split(' ', 1)[1]} of other templates (beyond CASCRAWL_DRIFT_MAX_GROUPS)"
    where = (f"body by {code(body)} (no container recorded)" if _BARE_WORD.fullmatch(body) and body not in _ELEMENTS
             else f"body at {code(body)}")
    text = f"new template? {pages}, {where}, heading {code(heading)}"
    return text + (f", e.g. {', '.join(group['examples'])}" if examples and group["examples"] else "")
