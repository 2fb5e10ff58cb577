"""The end-of-run health check, a step of the run record's shutdown (cascrawl/run/record.py): layout-change
alarms and listing pages not read into the stats (`cascrawl/health/status` ok|degraded,
`cascrawl/health/problems` and, as entries, `cascrawl/health/findings`, `cascrawl/coverage/share/*`), from which the verdict takes them. The checks
themselves are pure functions in cascrawl/health.py."""

from __future__ import annotations

import logging

from cascrawl import stats_keys
from cascrawl.health import UNREAD_LISTING, coverage, findings
from cascrawl.run.verdict import health_status
from cascrawl.walk import walks_of

logger = logging.getLogger(__name__)


class RunHealth:
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

    def check(self) -> list[str]:
        """Judge the run from its stats and the runs before it; the problems found (also in the stats)."""
        from cascrawl.db import previous_run_stats

        stats = self.crawler.stats
        values = stats.get_stats()
        try:
            previous = previous_run_stats(self.database_url, values.get(stats_keys.RUN_ID))
        except Exception as error:  # no history is no reason to lose the other checks
            logger.warning("could not read earlier runs for the layout checks: %s", error)
            previous = []
        sections = list(walks_of(self.crawler).sections)
        if values.get(stats_keys.REDIS_WORKER):  # a worker of a distributed crawl judges the listings it read
            sections = [section for section in sections if values.get(stats_keys.section_listing_pages(section))]
        found = findings(values, sections, previous, **self.thresholds)
        problems = [entry["text"] for entry in found]
        pages, shares = coverage(values)
        for name, share in shares.items():
            stats.set_value(f"cascrawl/coverage/share/{name}", round(share, 4))
        stats.set_value(stats_keys.HEALTH_STATUS, health_status(problems))
        stats.set_value(stats_keys.HEALTH_PROBLEMS, problems)
        stats.set_value(stats_keys.HEALTH_FINDINGS, found)
        for problem in problems:  # a listing page not read is the spider's word, not a layout alarm
            logger.error("%s: %s", "run degraded" if problem.startswith(UNREAD_LISTING) else "layout alarm", problem)
        return problems
