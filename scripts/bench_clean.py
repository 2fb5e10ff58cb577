#!/usr/bin/env python
"""Cleaning micro-benchmark: milliseconds per article over the fixture articles.

    .venv/bin/python scripts/bench_clean.py [--rounds N]

Each fixture article page is extracted once by the spider's article callback; then the configured
cleaning pipelines (ITEM_PIPELINES without persistence) run over fresh copies of those items, N
rounds after one warm-up round (OpenCC dictionaries, dateparser's language data). Prints the median
time per article of each pipeline and of the whole chain; extraction is timed too, for scale.
"""

from __future__ import annotations

import argparse
import copy
import logging
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import scrapy  # noqa: E402
from scrapy.http import HtmlResponse  # noqa: E402
from scrapy.utils.test import get_crawler  # noqa: E402

from cascrawl.pipelines import cleaning_pipelines  # noqa: E402
from cascrawl.single_page import callback_items  # noqa: E402
from cascrawl.spiders.cas_news import CasNewsSpider  # noqa: E402

SITE = REPO / "fixtures" / "site"
BASE = "http://127.0.0.1:8000"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds over all articles (default 30)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the spider's per-page warnings would drown the numbers

    crawler = get_crawler(CasNewsSpider, {"CASCRAWL_BASE_URL": BASE})
    crawler.spider = spider = CasNewsSpider.from_crawler(crawler)
    pipelines = cleaning_pipelines(crawler)
    pages = sorted(path for path in SITE.rglob("t*_*.shtml"))
    responses = [HtmlResponse(f"{BASE}/{page.relative_to(SITE).as_posix()}", body=page.read_bytes()) for page in pages]

    extraction = []
    items = []
    for round_number in range(args.rounds + 1):
        started = time.perf_counter()
        items = [callback_items(spider.fetch_article(response, section="?"))[0] for response in responses]
        if round_number:
            extraction.append(time.perf_counter() - started)

    names = [type(p).__name__ for p in pipelines]
    per_step = {name: [] for name in names}
    whole = []
    for round_number in range(args.rounds + 1):
        batch = copy.deepcopy(items)
        spent = dict.fromkeys(names, 0.0)
        for item in batch:
            for name, pipeline in zip(names, pipelines):
                started = time.perf_counter()
                item = pipeline.process_item(item)
                spent[name] += time.perf_counter() - started
        if round_number:  # round 0 warms up
            for name in names:
                per_step[name].append(spent[name])
            whole.append(sum(spent.values()))

    rejected = [item.url for item in batch if item.reject_reason]
    count = len(items)

    def ms(samples: list[float]) -> str:
        return f"{statistics.median(samples) / count * 1000:8.3f}"

    print(f"cleaning {count} fixture articles x {args.rounds} rounds "
          f"(Python {platform.python_version()}, Scrapy {scrapy.__version__}, {platform.machine()})")
    print(f"{'step':<24}{'ms/article':>8} (median)")
    for name in names:
        print(f"{name:<24}{ms(per_step[name])}")
    print(f"{'all cleaning':<24}{ms(whole)}")
    print(f"{'(extraction, for scale)':<24}{ms(extraction)}")
    if rejected:
        print(f"warning: {len(rejected)} fixture articles were rejected: {rejected}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
