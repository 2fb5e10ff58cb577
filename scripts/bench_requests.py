"""Requests per run, the figure users feel on the live site (about one request a second).

    .venv/bin/python scripts/bench_requests.py [--new 3]

Serves a temporary copy of the fixture site on loopback and runs the real `cascrawl crawl` over all of
its sections: a first run into an empty database; a second run with nothing changed; a run after
--new articles appear in one section; a `--refresh-days` run revalidating every stored article.
Counts come from each run's record in crawl_runs (the crawler's stats).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support: the repository's, not installed
from cascrawl.crawl import request_counts  # noqa: E402
from cascrawl.db import Database, reads  # noqa: E402
from tests.support.fixture_site import BUNDLED_SITE, add_new_articles, serve_site, site_sections  # noqa: E402

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CASCRAWL_RETRY_BACKOFF_BASE=0",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "LOG_LEVEL=WARNING"]


def crawl(base: str, db_url: str, sections: list[str], *extra: str) -> dict:
    command = [sys.executable, "-m", "cascrawl", "crawl", "--base-url", base, "--db", db_url,
               "--section", ",".join(sections), *FAST, *extra]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if result.returncode not in (0, 2):
        raise SystemExit(f"crawl failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return last_run_stats(db_url)


def last_run_stats(db_url: str) -> dict:
    database = Database(db_url)
    try:
        return reads.get_run(database)["stats"]
    finally:
        database.close()


def row(name: str, stats: dict, target: str) -> tuple:
    counts = request_counts(stats)
    not_modified = int(stats.get("downloader/response_status_count/304", 0))
    return name, counts.total, counts.robots, counts.listing, counts.articles, not_modified, target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", type=int, default=3, help="articles published before the third run (default 3)")
    args = parser.parse_args()
    sections = site_sections(BUNDLED_SITE)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(BUNDLED_SITE, site)
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with serve_site(site) as base:
            rows = [row("first run (empty database)", crawl(base, db_url, sections), "-")]
            rows.append(row("second run, nothing changed", crawl(base, db_url, sections),
                            f"{len(sections)} listing + robots, 0 articles"))
            add_new_articles(site, "syky", args.new)
            rows.append(row(f"after {args.new} new articles", crawl(base, db_url, sections),
                            f"exactly {args.new} article fetches"))
            rows.append(row("--refresh-days (all stored)", crawl(base, db_url, sections, "--refresh-days", "36500"),
                            "revalidations answered 304"))
    header = ("run", "requests", "robots", "listing", "articles", "304", "target")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"{len(sections)} sections of the fixture copy, served on 127.0.0.1")
    for line in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
