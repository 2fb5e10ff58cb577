"""Run the cas_news spider in this process and read what happened from its stats."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from spiders.cas_news import CasNewsSpider


@dataclass(frozen=True)
class RequestCounts:
    total: int
    robots: int
    listing: int  # listing pages asked for (a section answering 404 included)
    articles: int  # article pages asked for, revalidations included


def request_counts(stats: dict) -> RequestCounts:
    """Where a run's requests went, from its stats: the figure users feel on the live site."""
    total = int(stats.get("downloader/request_count", 0) or 0)
    robots = int(stats.get("robotstxt/request_count", 0) or 0)
    listing = int(stats.get("cascrawl/listing_pages", 0) or 0) + int(stats.get("cascrawl/sections_missing", 0) or 0)
    return RequestCounts(total, robots, listing, total - robots - listing)


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
    def locked(self) -> str | None:
        return self.stats.get("cascrawl/run_locked")

    @property
    def problems(self) -> list[str]:
        return list(self.stats.get("cascrawl/health/problems") or [])

    @property
    def exit_code(self) -> int:
        """0 ok; 2 finished with failures (layout alarm, listing pages not fetched, callback errors); 1 failed."""
        if self.locked or self.stats.get("finish_reason") != "finished" or self._count("cascrawl/db/articles_lost"):
            return 1
        if self.problems or self._count("cascrawl/listing_fetch_failed") or self._count("spider_exceptions/count"):
            return 2
        return 0

    def rejects(self) -> dict[str, int]:
        prefix = "cascrawl/rejected/"
        return {key[len(prefix):]: int(value) for key, value in self.stats.items() if key.startswith(prefix)}

    def summary(self, database: str) -> str:
        """One screen: what was fetched, what was stored, what was rejected, how complete, what is wrong."""
        count = self._count
        rejects = self.rejects()
        status = {0: "ok", 2: "finished with failures", 1: "failed"}[self.exit_code]
        if self.problems:
            status = "degraded (layout alarm)"
        requests = request_counts(self.stats)
        statuses = sorted((key.rsplit("/", 1)[1], int(value)) for key, value in self.stats.items()
                          if key.startswith("downloader/response_status_count/"))
        elapsed = self.stats.get("elapsed_time_seconds")
        run_id = self.stats.get("cascrawl/db/run_id")
        lines = [
            f"crawl run {run_id if run_id is not None else '-'}: {status}"
            + (f" in {float(elapsed):.1f} s" if elapsed is not None else "")
            + f" ({self.base_url}, sections {','.join(self.sections)})",
            f"requests: {requests.total} (robots.txt {requests.robots}, listing pages {requests.listing}, "
            f"articles {requests.articles})"
            + (f"; responses {', '.join(f'{code}: {n}' for code, n in statuses)}" if statuses else ""),
            f"articles: {count('cascrawl/db/articles_inserted')} new, {count('cascrawl/db/articles_revised')} updated, "
            f"{count('cascrawl/db/articles_unchanged') + count('cascrawl/db/articles_refreshed')} unchanged, "
            f"{count('cascrawl/refresh/not_modified')} not modified (304); "
            f"{count('cascrawl/db/articles_upserted')} articles stored, {sum(rejects.values())} rejected"
            + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(rejects.items()))})" if rejects else ""),
        ]
        pages = count("cascrawl/coverage/pages")
        if pages:
            shares = ", ".join(f"{name} {float(self.stats.get(f'cascrawl/coverage/share/{name}', 0)):.0%}"
                               for name in ("title", "date", "body", "source"))
            lines.append(f"coverage: {shares} of {pages} article pages"
                         + (f"; {count('cascrawl/extract/generic_fallback')} by the generic extractor"
                            if count("cascrawl/extract/generic_fallback") else ""))
        lines.append(f"database: {database}")
        if count("cascrawl/sections_missing"):
            lines.append(f"warning: {count('cascrawl/sections_missing')} section(s) answered 404 (see the log)")
        if count("cascrawl/listing_fetch_failed"):
            lines.append(f"warning: {count('cascrawl/listing_fetch_failed')} listing page(s) could not be fetched")
        lines.extend(f"alarm: {problem}" for problem in self.problems)
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
