"""The crawl's engine, where components that may run outside a crawl ask for it."""

from __future__ import annotations


def engine_of(crawler):
    """The crawler's engine, or None before the crawl has started (or without a crawler): Scrapy 2.19's
    `Crawler.engine` raises RuntimeError then, so `getattr(crawler, "engine", None)` does not do."""
    try:
        return getattr(crawler, "engine", None)
    except RuntimeError:
        return None
