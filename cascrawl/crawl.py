"""Run the cas_news spider in this process and read what happened from its stats."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from spiders.cas_news import CasNewsSpider


@dataclass
class CrawlOutcome:
    base_url: str
    sections: list[str]
    stats: dict = field(default_factory=dict)
    first_error: str | None = None

    def _count(self, key: str) -> int:
        return int(self.stats.get(key, 0) or 0)

    @property
    def unreachable(self) -> bool:
        """No listing page answered at all and fetching them failed: the site is not there."""
        answered = self._count("cascrawl/listing_pages") + self._count("cascrawl/sections_missing")
        return answered == 0 and self._count("cascrawl/listing_fetch_failed") > 0

    @property
    def exit_code(self) -> int:
        if self.stats.get("finish_reason") != "finished":
            return 1
        if self._count("cascrawl/listing_fetch_failed") or self._count("spider_exceptions/count"):
            return 2
        return 0

    def rejects(self) -> dict[str, int]:
        prefix = "cascrawl/rejected/"
        return {key[len(prefix):]: int(value) for key, value in self.stats.items() if key.startswith(prefix)}

    def summary(self, database: str) -> str:
        rejects = self.rejects()
        lines = [
            f"crawled {self.base_url} sections {','.join(self.sections)}: "
            f"{self._count('cascrawl/listing_pages')} listing pages, "
            f"{self._count('cascrawl/db/articles_upserted')} articles stored, "
            f"{sum(rejects.values())} rejected"
            + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(rejects.items()))})" if rejects else ""),
            f"database: {database}",
        ]
        if self._count("cascrawl/sections_missing"):
            lines.append(f"warning: {self._count('cascrawl/sections_missing')} section(s) answered 404 (see the log)")
        if self._count("cascrawl/listing_fetch_failed"):
            lines.append(f"warning: {self._count('cascrawl/listing_fetch_failed')} listing page(s) could not be fetched")
        lines.append(f"finish reason: {self.stats.get('finish_reason')}")
        return "\n".join(lines)


def run_crawl(settings: Settings) -> CrawlOutcome:
    """Crawl with these settings (CASCRAWL_BASE_URL, CASCRAWL_SECTIONS, …) and block until done."""
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(CasNewsSpider)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    return CrawlOutcome(
        base_url=getattr(crawler.spider, "base_url", settings.get("CASCRAWL_BASE_URL")),
        sections=list(getattr(crawler.spider, "sections", [])),
        stats=stats,
        first_error=stats.get("cascrawl/first_fetch_error"),
    )
