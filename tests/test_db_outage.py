"""Database outages, for real: PostgreSQL reached through a TCP proxy on loopback that the test cuts
(every connection dropped, new ones refused) and restores, in the middle of a crawl."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from cascrawl.db import Article, CrawlRun
from tests.support.fixture_site import build_large_section
from cascrawl.spool import Spool

from .conftest import FAST, REPO, run_cascrawl
from .db_backends import postgres_server  # noqa: F401  (fixture)
from .loopback import CountingSite, TcpProxy

SECTION = "syky"
SITE_PREFIX = "https://www.cas.cn"  # article_requests() counts paths; the stored URLs are the site's


@pytest.fixture()
def proxied_database(postgres_server):  # noqa: F811
    """(direct URL, URL through a proxy the test can cut, the proxy) of a fresh PostgreSQL database."""
    direct = postgres_server.create_database()
    parsed = make_url(direct)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432).start()
    through = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield direct, through, proxy
    proxy.close()
    postgres_server.drop_database(direct)


def _rows(db_url: str, model, column):
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(column)))
    finally:
        engine.dispose()


def _crawl(site_url: str, db_url: str, spool_dir, *extra: str) -> list[str]:
    return [sys.executable, "-m", "cascrawl", "crawl", "--base-url", site_url, "--db", db_url, "--section", SECTION,
            *FAST, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "-s", "LOG_LEVEL=WARNING",
            "-s", "CASCRAWL_DB_BATCH_SIZE=10", "-s", "CASCRAWL_DB_FLUSH_SECONDS=0.5",
            "-s", f"CASCRAWL_SPOOL_DIR={spool_dir}", *extra]


def _wait_for_articles(site: CountingSite, process: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + 60
    while sum(site.article_requests().values()) < count:
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_an_eight_second_outage_in_the_middle_of_a_run_loses_nothing(proxied_database, tmp_path):
    direct, through, proxy = proxied_database
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=120, per_page=20)
    with CountingSite(root, article_delay=0.03) as site:
        process = subprocess.Popen(_crawl(site.url, through, tmp_path / "spool", "-s", "CASCRAWL_DB_OUTAGE_SECONDS=60"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                   env=os.environ.copy())
        _wait_for_articles(site, process, 40)
        proxy.cut()
        cut_at = sum(site.article_requests().values())
        time.sleep(8)
        during = sum(site.article_requests().values())
        proxy.restore()
        stdout, stderr = process.communicate(timeout=180)
        fetched = site.article_requests()
    assert process.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr and "Traceback" not in stdout
    # Fetching paused while the database was away: what was already handed to the downloader (at most
    # CONCURRENT_REQUESTS, 16) and what came before the first failed write, not the rest of the section ...
    assert during - cut_at < 40, (cut_at, during)
    assert "database outage ridden out" in stdout
    # ... and every article is stored by the end of the same run, each page fetched once.
    assert sorted(_rows(direct, Article, Article.url)) == sorted(urls)
    assert len(fetched) == len(urls) and set(fetched.values()) == {1}
    [status] = _rows(direct, CrawlRun, CrawlRun.status)
    assert status == "finished"
    assert not list((tmp_path / "spool").glob("*")) if (tmp_path / "spool").exists() else True


def test_a_database_that_stays_away_leaves_a_spool_that_the_next_run_writes_first(proxied_database, tmp_path):
    direct, through, proxy = proxied_database
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=60, per_page=20)
    spool = tmp_path / "spool"
    with CountingSite(root, article_delay=0.03) as site:
        process = subprocess.Popen(_crawl(site.url, through, spool, "-s", "CASCRAWL_DB_OUTAGE_SECONDS=2"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                   env=os.environ.copy())
        _wait_for_articles(site, process, 25)
        proxy.cut()
        stdout, stderr = process.communicate(timeout=120)
        stored_before = set(_rows(direct, Article, Article.url))
        [spooled] = list(spool.glob("cascrawl-spool-*.jsonl"))
        spooled_articles = Spool.read(spooled).articles
        spooled_urls = {row["url"] for row in spooled_articles}
        proxy.restore()
        site.reset()
        again = run_cascrawl(*_crawl(site.url, through, spool)[3:])
        fetched_again = site.article_requests()

    assert process.returncode == 1
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert "the database stayed away" in stdout and str(spooled) in stdout
    assert spooled_urls and len(stored_before) < len(urls)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "spool of an earlier run written first" in again.stdout
    assert not spooled.exists()
    assert sorted(_rows(direct, Article, Article.url)) == sorted(urls)
    # What the spool held was not fetched again. A batch whose commit reached the server just as the proxy
    # was cut is both stored and spooled (its answer was lost): the sets overlap, so compare URLs, not counts.
    assert set(fetched_again.values()) == {1}
    assert {SITE_PREFIX + path for path in fetched_again} == set(urls) - stored_before - spooled_urls
    statuses = _rows(direct, CrawlRun, CrawlRun.status)
    assert statuses == ["interrupted", "finished"]  # the first run could not even be closed
