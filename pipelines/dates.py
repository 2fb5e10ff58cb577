"""The published date: the page's own date (meta, then info line) beats the listing, which beats the URL."""

from __future__ import annotations

from itemadapter import ItemAdapter

from cascrawl.dates import resolve_published


class PublishedDatePipeline:
    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item):
        adapter = ItemAdapter(item)
        published = resolve_published([
            (adapter.get("date_origin") or "page", adapter.get("date_text")),
            ("listing", adapter.get("listing_date")),
            ("url", adapter.get("url_date")),
        ])
        if published is not None:
            adapter["published_date"] = published.date
            adapter["published_at"] = published.at
            adapter["provenance"] = {**(adapter.get("provenance") or {}), "published": published.origin}
            self.stats.inc_value(f"cascrawl/dates/from_{published.origin}")
        return item
