"""The reference of the crawl benchmark: a bare Scrapy spider walking a section as cascrawl does.

    .venv/bin/python scripts/bare_spider.py BASE_URL SECTION STATS_JSON [-s NAME=VALUE]...

It requests the section's listing pages one after the other (the next one once the current one is
parsed, its count read from the TRS pager script), follows every article link of each with Scrapy's
own selectors, and does nothing with the article pages: no extraction, no cleaning, no storage. Same
URLs as `cascrawl crawl --section SECTION --base-url BASE_URL` on an empty database, same politeness
settings (the benchmark passes the same `-s` to both). Scrapy's stats are written to STATS_JSON.
Not cascrawl's project settings: plain Scrapy defaults plus the `-s` given.
"""

from __future__ import annotations

import json
import re
import sys

import scrapy
from scrapy.crawler import CrawlerProcess

_PAGE_COUNT = re.compile(r"var countPage = (\d+)")


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, base_url: str, section: str, **kwargs):
        super().__init__(**kwargs)
        self.section_url = f"{base_url.rstrip('/')}/{section}/"

    async def start(self):
        yield self._listing(0, None)

    def _listing(self, number: int, page_count: int | None):
        url = self.section_url if number == 0 else f"{self.section_url}index_{number}.shtml"
        return scrapy.Request(url, callback=self.parse_listing, priority=10,
                              cb_kwargs={"number": number, "page_count": page_count})

    def parse_listing(self, response, number, page_count):
        for href in response.css("#content a::attr(href)").getall():
            yield response.follow(href, callback=self.parse_article)
        if page_count is None:
            found = _PAGE_COUNT.search(response.text)
            page_count = int(found.group(1)) if found else 1
        if number + 1 < page_count:
            yield self._listing(number + 1, page_count)

    def parse_article(self, response):
        return None


def main() -> int:
    base_url, section, stats_path, *rest = sys.argv[1:]
    settings = {"LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False}
    for flag, pair in zip(rest[::2], rest[1::2]):
        if flag != "-s":
            raise SystemExit(f"unexpected argument {flag!r}")
        name, value = pair.split("=", 1)
        settings[name] = value
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, base_url=base_url, section=section)
    process.start()
    stats = {key: (value.isoformat() if hasattr(value, "isoformat") else value)
             for key, value in crawler.stats.get_stats().items()}
    with open(stats_path, "w", encoding="utf-8") as handle:
        json.dump(stats, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
