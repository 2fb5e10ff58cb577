"""Required fields present, else a rejection with a reason (recorded by the persist pipeline)."""

from __future__ import annotations

import logging

from itemadapter import ItemAdapter

logger = logging.getLogger(__name__)


def rejection(adapter: ItemAdapter) -> tuple[str, str] | None:
    """(reason code, detail) for an item that must not become an article, else None."""
    if adapter.get("reject_reason"):  # already rejected upstream (e.g. extraction_error)
        return adapter["reject_reason"], adapter.get("reject_detail")
    status = adapter.get("http_status") or 200
    if status != 200:
        return f"http_{status}", f"article page answered HTTP {status}"
    if not adapter.get("title"):
        return "missing_title", "no title in meta, page heading or <title>"
    if not adapter.get("published_date"):
        return "missing_date", f"no plausible date (page: {adapter.get('date_text')!r}, url: {adapter.get('url_date')})"
    if not adapter.get("text"):
        template = adapter.get("template")
        return "missing_body", f"no article body (template {template or 'not recognised'})"
    return None


class ValidatePipeline:
    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item):
        adapter = ItemAdapter(item)
        found = rejection(adapter)
        if found:
            reason, detail = found
            adapter["reject_reason"], adapter["reject_detail"] = reason, detail
            self.stats.inc_value(f"cascrawl/rejected/{reason}")
            logger.warning("rejected %s: %s (%s)", adapter.get("fetched_url"), reason, detail)
        return item
