"""One page, as a crawl would store it: bytes + Content-Type + URL + settings in, the cleaned item out.

No engine, no database, no network. The same steps as a crawl, by the crawl's own code:
- the spider's article callback, the one a crawl's requests go to (`CasNewsSpider.fetch_article`: the
  binary-body check, then `cascrawl.extraction.extract` — decoding, the tag limit,
  `cascrawl.parsers.parse_article` — and the item built from the page), run to its end in this thread
  by `callback_items` (no extraction workers here: nothing it awaits waits);
- the item pipelines that run before persistence, in the order ITEM_PIPELINES gives them (text,
  boilerplate, copies, dates, fields, validate; an operator's own pipelines placed before persistence
  too), built the way the extraction workers build them (pipelines/processor.py: the crawl's settings
  and a stats recorder, no engine). The media archive is left out: it fetches files.

`cascrawl extract` prints what this returns; the extraction benchmark scores pages through it.
What a crawl adds and this cannot know: the listing's date of the article (dates fall back to the URL's).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from itemadapter import ItemAdapter
from scrapy.settings import BaseSettings, Settings
from scrapy.signalmanager import SignalManager

from cascrawl.pipelines import cleaning_pipelines
from cascrawl.pipelines.processor import _Records, _WorkerCrawler

# What `record()` gives, in this order: the export contract's keys (docs/export.md) that a single page
# has (not the database's media records and times), then what says how the page was read.
RECORD_KEYS = (
    "url", "section", "title", "published_date", "published_at", "source", "author", "editor", "text",
    "attachments", "images", "videos", "content_hash", "template", "provenance", "rejected",
)


@dataclass
class StoredPage:
    """What a crawl would make of one page."""

    item: dict  # every field of the cleaned ArticleItem (cascrawl/items.py)
    stats: dict[str, object] = field(default_factory=dict)  # what the spider and pipelines counted
    log: list[str] = field(default_factory=list)  # their warnings: "no CAS layout matched …", "rejected …"

    @property
    def rejected(self) -> tuple[str, str] | None:
        """(reason, detail) when validation would file the page in `rejects` instead of `articles`."""
        reason = self.item.get("reject_reason")
        return (reason, self.item.get("reject_detail") or "") if reason else None

    def record(self) -> dict:
        """The page as the export contract spells an article (same names, same formats), with the
        template, the provenance of each field and the rejection (null when it would be stored)."""
        from cascrawl.export import _iso

        item, rejected = self.item, self.rejected
        published = item.get("published_date")
        values = {
            **{key: item.get(key) for key in RECORD_KEYS if key in item},
            "published_date": published.isoformat() if isinstance(published, date) else None,
            "published_at": _iso(item["published_at"]) if isinstance(item.get("published_at"), datetime) else None,
            "rejected": {"reason": rejected[0], "detail": rejected[1]} if rejected else None,
        }
        for key in ("attachments", "images", "videos"):
            values[key] = values.get(key) or []
        values["provenance"] = values.get("provenance") or {}
        return {key: values.get(key) for key in RECORD_KEYS}


def project_settings(overrides: dict | None = None) -> Settings:
    """cascrawl's settings (cascrawl/settings.py) with `overrides` on top, as a crawl's command line sets them."""
    settings = Settings()
    settings.setmodule("cascrawl.settings", priority="project")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


class _PageCrawler(_WorkerCrawler):
    """The worker's crawler stand-in (settings and a stats recorder), with the signals a spider connects to."""

    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.signals = SignalManager(self)


class PageExtractor:
    """Built once from settings (the spider and the pipelines); called once per page. Not thread-safe."""

    def __init__(self, settings: BaseSettings | dict | None = None):
        from cascrawl.spiders.cas_news import CasNewsSpider

        if not isinstance(settings, BaseSettings):
            settings = project_settings(settings)
        self.crawler = _PageCrawler(settings)
        self.spider = CasNewsSpider.from_crawler(self.crawler)  # no extraction workers: pages parsed here
        self.crawler.spider = self.spider
        self.pipelines = cleaning_pipelines(self.crawler)

    def __call__(self, body: bytes, content_type: str | bytes | None, url: str, status: int = 200,
                 listing_date: date | None = None) -> StoredPage:
        from scrapy.http import HtmlResponse

        headers = {"Content-Type": content_type} if content_type else {}
        response = HtmlResponse(url, status=status, headers=headers, body=body)
        stats, records = self.crawler.stats, _Records()
        stats.calls = []
        root = logging.getLogger()
        root.addHandler(records)  # the warnings the spider and the pipelines log about this page
        try:
            (item,) = callback_items(self.spider.fetch_article(response, section="", listing_date=listing_date))
            for pipeline in self.pipelines:
                item = pipeline.process_item(item)
        finally:
            root.removeHandler(records)
        return StoredPage(item=dict(ItemAdapter(item)), stats=_totals(stats.calls),
                          log=[message for _, level, message in records.records if level >= logging.WARNING])


def callback_items(results) -> list:
    """What an asynchronous spider callback yields, run to its end in this thread: for a crawler without
    extraction workers (`cascrawl.extraction.extraction_of`), where nothing the callback awaits has to wait."""

    async def collect() -> list:
        return [item async for item in results]

    running = collect()
    try:
        running.send(None)
    except StopIteration as done:
        return done.value
    running.close()
    raise RuntimeError("the callback waited (on an extraction worker?): run it in a crawl instead")


def extract_page(body: bytes, content_type: str | bytes | None, url: str, settings: BaseSettings | dict | None = None,
                 status: int = 200) -> StoredPage:
    """What a crawl would store for this page. With no settings, cascrawl's defaults (built once and reused)."""
    global _DEFAULT
    if settings is not None:
        return PageExtractor(settings)(body, content_type, url, status)
    if _DEFAULT is None:
        _DEFAULT = PageExtractor()
    return _DEFAULT(body, content_type, url, status)


_DEFAULT: PageExtractor | None = None


def _totals(calls: list[tuple[str, str, object]]) -> dict[str, object]:
    """The stats recorder's calls, folded as the crawl's stats collector folds them."""
    totals: dict[str, object] = {}
    for method, key, value in calls:
        if method == "inc_value":
            totals[key] = totals.get(key, 0) + value
        elif method == "max_value":
            totals[key] = max(totals.get(key, value), value)
        elif method == "min_value":
            totals[key] = min(totals.get(key, value), value)
        else:
            totals[key] = value
    return dict(sorted(totals.items()))
