"""Article pages parsed in a worker process (cascrawl/extraction.py) store exactly what parsing in the
crawler's thread stores, and a worker that dies costs no page. Real crawls of copies served on loopback."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from cascrawl.db import Database, reads
from tests.support.fixture_site import build_large_section
from tests.support.procmem import children

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


# What the cleaning pipelines count: the same whether they ran in a worker or in the crawler's thread.
CLEANING_STATS = ("cascrawl/clean/", "cascrawl/dates/", "cascrawl/validated", "cascrawl/rejected/")


def _pipeline_log(stderr: str) -> list[str]:
    """The cleaning pipelines' log lines at INFO and above, without their time stamps."""
    lines = [line.split(" ", 2)[2] for line in stderr.splitlines()
             if re.match(r"\d{4}-\d\d-\d\d \S+ \[cascrawl\.pipelines\.(text|boilerplate|copies|dates|fields|validate)\] ", line)]
    return sorted(lines)


def test_a_worker_stores_exactly_what_parsing_in_the_crawler_thread_stores(site_url, tmp_path):
    # Two fresh databases (the session's `crawled` one may hold later runs by now, and its stats are the last run's).
    db_url, inline_url = f"sqlite:///{tmp_path / 'worker.db'}", f"sqlite:///{tmp_path / 'inline.db'}"
    sections = ",".join(sorted({e["section"] for e in expected_articles()}))
    crawl = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", sections, *FAST)  # 1 worker
    inline = run_cascrawl("crawl", "--base-url", site_url, "--db", inline_url, "--section", sections, *FAST,
                          "-s", "CASCRAWL_EXTRACT_PROCESSES=0")
    assert crawl.returncode == inline.returncode == 0, (crawl.stderr + inline.stderr)[-3000:]

    in_worker, in_thread = _rows(db_url), _rows(inline_url)
    assert len(in_worker) == len(expected_articles())
    assert in_worker == in_thread
    pages = int(_stats(db_url)["cascrawl/coverage/pages"])
    # Pages go to the worker while it has fewer than CASCRAWL_EXTRACT_QUEUE jobs waiting, the rest are done in
    # the crawler's thread: most, not necessarily all, were parsed there.
    assert 0 < int(_stats(db_url).get("cascrawl/extract/in_worker", 0)) <= pages
    assert "cascrawl/extract/in_worker" not in _stats(inline_url)
    # The cleaning ran there too (pipelines/processor.py): every article page's item, with the same counts
    # and the same log lines as in the crawler's thread.
    worker_stats, inline_stats = _stats(db_url), _stats(inline_url)
    assert 0 < int(worker_stats["cascrawl/clean/in_worker"]) <= pages
    assert "cascrawl/clean/in_worker" not in inline_stats
    cleaning = {key: value for key, value in worker_stats.items()
                if key.startswith(CLEANING_STATS) and key != "cascrawl/clean/in_worker"}
    assert cleaning["cascrawl/clean/text/articles"] == cleaning["cascrawl/validated"] == pages
    assert cleaning == {key: value for key, value in inline_stats.items() if key.startswith(CLEANING_STATS)}
    assert _pipeline_log(crawl.stderr) == _pipeline_log(inline.stderr)


def test_what_the_cleaning_logs_in_a_worker_reaches_the_crawl_log(tmp_path):
    root = tmp_path / "site"
    urls = build_large_section(root, "syky", count=12, per_page=20)
    empty, old = (root / "syky" / url.split("/syky/", 1)[1] for url in (urls[2], urls[5]))
    empty.write_text(re.sub(r'(<div class="trs_editor_view[^"]*">).*?(</div>)', r"\1\2", empty.read_text("utf-8"),
                            count=1, flags=re.S), "utf-8")
    old.write_text(re.sub(r"\d{4}-\d\d-\d\d 10:05", "1900-01-01 10:05", old.read_text("utf-8")), "utf-8")
    runs = {}
    with CountingSite(root) as site:
        for processes in (1, 0):
            db_url = f"sqlite:///{tmp_path / f'{processes}.db'}"
            runs[processes] = (run_cascrawl("crawl", "--base-url", site.url, "--db", db_url, "--section", "syky",
                                            *FAST, "-s", f"CASCRAWL_EXTRACT_PROCESSES={processes}",
                                            "-s", "CASCRAWL_EXTRACT_QUEUE=1000"), db_url)  # all to the worker
    (in_worker, worker_db), (in_thread, thread_db) = runs[1], runs[0]
    assert in_worker.returncode == in_thread.returncode == 0, in_worker.stderr[-3000:]
    assert int(_stats(worker_db)["cascrawl/clean/in_worker"]) == len(urls)
    logged = _pipeline_log(in_worker.stderr)
    assert any(f"rejected {urls[2]}: missing_body".replace("https://www.cas.cn", site.url) in line for line in logged), logged
    assert any("passed over" in line and "1900-01-01" in line for line in logged), logged
    assert logged == _pipeline_log(in_thread.stderr)
    assert _rows(worker_db) == _rows(thread_db)


def _stored_count(db_url: str) -> int:
    path = Path(db_url.removeprefix("sqlite:///"))
    if not path.exists():
        return 0
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)  # read-only: never creates the file
    try:
        return connection.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        connection.close()


def test_a_worker_killed_in_the_middle_costs_no_page(tmp_path):
    urls = build_large_section(tmp_path / "site", "syky", count=200, per_page=20)
    db_url = f"sqlite:///{tmp_path / 'killed-worker.db'}"
    with CountingSite(tmp_path / "site", article_delay=0.05) as site:
        crawl = subprocess.Popen(
            [sys.executable, "-m", "cascrawl", "crawl", "--base-url", site.url, "--db", db_url, "--section", "syky",
             *FAST, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "CASCRAWL_DB_BATCH_SIZE=10",
             # A worker behind by the queue's length has its jobs done in the crawler's thread instead: on a
             # loaded machine the first articles could all be cleaned there. With room for every page, each
             # job goes to the worker while it lives, so the stored articles were cleaned in it.
             "-s", "CASCRAWL_EXTRACT_QUEUE=1000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=os.environ.copy())
        try:
            deadline = time.monotonic() + 120
            # The worker has answered pages (their articles are stored, in batches of 10), more are to come.
            while _stored_count(db_url) < 10:
                assert crawl.poll() is None, crawl.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "the crawl made no progress"
                time.sleep(0.01)
            (worker,) = children(crawl.pid)
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
    assert 0 < int(stats["cascrawl/clean/in_worker"]) < len(urls)  # the rest was cleaned in the crawler's thread


def test_the_extraction_workers_belong_to_the_crawler():
    """The extension (EXTENSIONS) is the crawl's pool, found through the crawler by the spider and the item
    processor; its size and queue come from the settings (the queue's 0: twice CONCURRENT_REQUESTS)."""
    from scrapy.utils.test import get_crawler

    from cascrawl.extraction import ExtractionWorkers, extraction_of

    extension = {"EXTENSIONS": {"cascrawl.extraction.ExtractionWorkers": 0}}
    crawler = get_crawler(settings_dict={**extension, "CASCRAWL_EXTRACT_PROCESSES": 2, "CONCURRENT_REQUESTS": 5})
    workers = crawler.get_extension(ExtractionWorkers)
    assert extraction_of(crawler) is workers and (workers.processes, workers.queue_limit) == (2, 10)
    queued = get_crawler(settings_dict={**extension, "CASCRAWL_EXTRACT_QUEUE": 3})
    assert extraction_of(queued).queue_limit == 3
    bare = get_crawler()  # no extension: pages are parsed in the crawler's thread
    assert extraction_of(bare).processes == 0 and extraction_of(bare) is extraction_of(bare)
