"""Article pages parsed in a worker process (cascrawl/extraction.py) store exactly what parsing in the
crawler's thread stores, and a worker that dies costs no page. Real crawls of copies served on loopback."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from cascrawl.db import Database, reads
from cascrawl.fixture_site import build_large_section

from .conftest import FAST, REPO, expected_articles, run_cascrawl
from .loopback import CountingSite

# Everything an article row holds but the times it was seen and its row id.
COMPARED = ("url", "fetched_url", "docid", "section", "title", "published_date", "published_at", "source", "author",
            "editor", "text", "html", "attachments", "images", "content_hash", "script", "template", "provenance",
            "etag", "last_modified", "revision")


def _rows(db_url: str) -> dict[str, tuple]:
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        return {row[0]: row for row in connection.execute(f"SELECT {', '.join(COMPARED)} FROM articles")}
    finally:
        connection.close()


def _stats(db_url: str) -> dict:
    database = Database(db_url)
    try:
        return reads.get_run(database)["stats"]
    finally:
        database.close()


def test_a_worker_stores_exactly_what_parsing_in_the_crawler_thread_stores(crawled, site_url, tmp_path):
    db_url, _ = crawled  # the default: CASCRAWL_EXTRACT_PROCESSES=1
    inline_url = f"sqlite:///{tmp_path / 'inline.db'}"
    sections = ",".join(sorted({e["section"] for e in expected_articles()}))
    inline = run_cascrawl("crawl", "--base-url", site_url, "--db", inline_url, "--section", sections, *FAST,
                          "-s", "CASCRAWL_EXTRACT_PROCESSES=0")
    assert inline.returncode == 0, inline.stderr[-3000:]

    in_worker, in_thread = _rows(db_url), _rows(inline_url)
    assert len(in_worker) == len(expected_articles())
    assert in_worker == in_thread
    pages = int(_stats(db_url)["cascrawl/coverage/pages"])
    assert int(_stats(db_url).get("cascrawl/extract/in_worker", 0)) == pages  # every page went to the worker
    assert "cascrawl/extract/in_worker" not in _stats(inline_url)


def _children(pid: int) -> list[int]:
    return [int(value) for value in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_a_worker_killed_in_the_middle_costs_no_page(tmp_path):
    urls = build_large_section(tmp_path / "site", "syky", count=120, per_page=20)
    db_url = f"sqlite:///{tmp_path / 'killed-worker.db'}"
    with CountingSite(tmp_path / "site", article_delay=0.02) as site:
        crawl = subprocess.Popen(
            [sys.executable, "-m", "cascrawl", "crawl", "--base-url", site.url, "--db", db_url, "--section", "syky",
             *FAST, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=os.environ.copy())
        try:
            deadline = time.monotonic() + 120
            while sum(site.article_requests().values()) < 40:
                assert crawl.poll() is None, crawl.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "the crawl made no progress"
                time.sleep(0.01)
            (worker,) = _children(crawl.pid)
            os.kill(worker, signal.SIGKILL)
            _, stderr = crawl.communicate(timeout=120)  # a crawl waiting forever for the dead worker fails here
        finally:
            if crawl.poll() is None:
                crawl.kill()
                crawl.wait()

    assert crawl.returncode == 0, stderr[-3000:]
    assert "an extraction worker ended" in stderr
    stored = _rows(db_url)
    assert sorted(stored) == sorted(urls)  # every article, the ones the worker held included
    stats = _stats(db_url)
    assert 0 < int(stats["cascrawl/extract/in_worker"]) < len(urls) == int(stats["cascrawl/coverage/pages"])
