"""Scrapy extensions of cascrawl."""

from __future__ import annotations

import logging

from scrapy import signals

from cascrawl.health import assess, coverage

logger = logging.getLogger(__name__)


class RunHealth:
    """At the end of a run: layout-change alarms into the stats (`cascrawl/health/status` ok|degraded,
    `cascrawl/health/problems`), which the run record and the exit code take from there.

    Built before the item pipelines, so its spider_closed handler runs before the persist pipeline
    closes the run record."""

    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.database_url = settings.get("CASCRAWL_DATABASE_URL")
        self.thresholds = {
            "min_coverage": dict(settings.getdict("CASCRAWL_ALARM_MIN_COVERAGE")),
            "min_pages": settings.getint("CASCRAWL_ALARM_MIN_PAGES"),
            "max_generic_share": settings.getfloat("CASCRAWL_ALARM_MAX_GENERIC_SHARE"),
            "section_min_entries": settings.getint("CASCRAWL_ALARM_SECTION_MIN_ENTRIES"),
        }
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_closed(self, spider, reason):
        from cascrawl.db import previous_run_stats

        stats = self.crawler.stats
        values = stats.get_stats()
        try:
            previous = previous_run_stats(self.database_url, values.get("cascrawl/db/run_id"))
        except Exception as error:  # no history is no reason to lose the other checks
            logger.warning("could not read earlier runs for the layout checks: %s", error)
            previous = []
        sections = list(getattr(spider, "sections", []))
        if values.get("cascrawl/redis/worker"):  # a worker of a distributed crawl judges the listings it read
            sections = [section for section in sections if values.get(f"cascrawl/section/{section}/listing_pages")]
        problems = assess(values, sections, previous, **self.thresholds)
        pages, shares = coverage(values)
        for name, share in shares.items():
            stats.set_value(f"cascrawl/coverage/share/{name}", round(share, 4))
        stats.set_value("cascrawl/health/status", "degraded" if problems else "ok")
        stats.set_value("cascrawl/health/problems", problems)
        for problem in problems:
            logger.error("layout alarm: %s", problem)
