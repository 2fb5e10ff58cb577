"""Step 2, boilerplate: lines that are wholly breadcrumb, info line, widget, attachment label or footer go.

A second net after the parser. The patterns are the settings CASCRAWL_BOILERPLATE_PATTERNS and
CASCRAWL_BOILERPLATE_EXTRA_PATTERNS; how they are applied is in `cascrawl.boilerplate`.
"""

from __future__ import annotations

import logging

from itemadapter import ItemAdapter

from cascrawl.boilerplate import BoilerplateFilter, parse_patterns
from pipelines import reject, setting

logger = logging.getLogger(__name__)


class BoilerplatePipeline:
    runs_in_worker = True  # a pure function of the item and the settings (pipelines/processor.py)

    def __init__(self, stats, boilerplate: BoilerplateFilter):
        self.stats = stats
        self.boilerplate = boilerplate

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        patterns = parse_patterns(setting(settings, "CASCRAWL_BOILERPLATE_PATTERNS"))
        patterns += parse_patterns(setting(settings, "CASCRAWL_BOILERPLATE_EXTRA_PATTERNS"))
        return cls(crawler.stats, BoilerplateFilter(patterns))

    def process_item(self, item):
        adapter = ItemAdapter(item)
        text, removed = self.boilerplate.split(adapter.get("text") or "")
        if removed:
            adapter["text"] = text or None
            self.stats.inc_value("cascrawl/clean/boilerplate/lines_removed", len(removed))
            self.stats.inc_value("cascrawl/clean/boilerplate/articles")
            logger.debug("boilerplate removed from %s: %r", adapter.get("url"), removed)
        title = adapter.get("title")
        if title and self.boilerplate.is_boilerplate(title):
            self.stats.inc_value("cascrawl/clean/boilerplate/titles")
            reject(adapter, "boilerplate_title", f"the title is page boilerplate, not a headline: {title!r}")
        return item
