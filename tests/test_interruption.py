"""Completeness that survives interruption: a crawl killed (SIGKILL) or stopped (SIGTERM) in the middle,
then run again, holds every article exactly once; a walk cut short never moves a section's boundary;
rejected pages are known and not fetched blindly again. Real crawls of a copy served on loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.orm import Session

from cascrawl.crawl import request_counts
from cascrawl.db import Article, Database, reads
from cascrawl.db.models import Refetch, SectionWalk
from tests.support.fixture_site import build_large_section

from .conftest import FAST, REPO, run_cascrawl
from .loopback import CountingSite
from .test_run_health import _runs

SECTION = "syky"


def _crawl_args(base: str, db_url: str, *extra: str) -> list[str]:
    return ["crawl", "--base-url", base, "--db", db_url, "--section", SECTION, *FAST,
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "LOG_LEVEL=WARNING", *extra]


def _stored(db_url: str) -> list[str]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(Article.url)))
    finally:
        engine.dispose()


def _search_index(db_url: str) -> tuple[set[str], int]:
    """(URLs the FTS5 index itself holds for the generated articles' common title words, articles waiting
    for the index)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            indexed = set(connection.execute(text(
                "SELECT url FROM articles WHERE id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH "
                "'\"号研究进展\"')")).scalars())
            pending = connection.execute(text("SELECT count(*) FROM articles_fts_pending")).scalar()
        return indexed, pending
    finally:
        engine.dispose()


def _found_by_search(db_url: str, stored: set[str]) -> set[str]:
    """Which of these generated articles search finds by their own title (第k号研究进展, k from the docid)."""
    database = Database(db_url)
    try:
        found = set()
        for url in stored:
            k = int(re.search(r"_(\d+)\.shtml$", url).group(1)) - 6000000
            found |= {hit["url"] for hit in database.search(f"第{k}号研究进展")}
        return found
    finally:
        database.close()


def _walk(db_url: str, section: str = SECTION) -> SectionWalk | None:
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            return session.get(SectionWalk, section)
    finally:
        engine.dispose()


def _last_stats(db_url: str) -> dict:
    database = Database(db_url)
    try:
        return reads.get_run(database)["stats"]
    finally:
        database.close()


def _interrupt(site: CountingSite, db_url: str, sig: int, after_articles: int, *extra: str) -> subprocess.CompletedProcess:
    """Start a crawl, send `sig` once the site has served `after_articles` article pages, wait for the end."""
    process = subprocess.Popen([sys.executable, "-m", "cascrawl", *_crawl_args(site.url, db_url, *extra)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=os.environ.copy())
    deadline = time.monotonic() + 120
    while sum(site.article_requests().values()) < after_articles:
        assert process.poll() is None, f"the crawl ended before it was interrupted: {process.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "the crawl made no progress"
        time.sleep(0.01)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture()
def big_site(tmp_path):
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=300, per_page=20)
    return root, urls


def test_a_crawl_killed_in_the_middle_is_completed_by_the_next_run(big_site, tmp_path):
    root, urls = big_site
    db_url = f"sqlite:///{tmp_path / 'killed.db'}"
    with CountingSite(root, article_delay=0.03) as site:
        killed = _interrupt(site, db_url, signal.SIGKILL, 150)
        assert killed.returncode == -signal.SIGKILL
        after_kill = set(_stored(db_url))
        assert 0 < len(after_kill) < len(urls)  # killed in the middle, as meant
        walk = _walk(db_url)
        assert walk is not None and not walk.walk_complete and walk.boundary_url is None
        # Killed before it brought the full-text index up to date: search still finds every stored article.
        assert _search_index(db_url) == (set(), len(after_kill))
        assert _found_by_search(db_url, after_kill) == after_kill
        site.reset()

        again = run_cascrawl(*_crawl_args(site.url, db_url))
        assert again.returncode == 0, again.stderr[-3000:]
        fetched_again = site.article_requests()
        site.reset()
        unchanged = run_cascrawl(*_crawl_args(site.url, db_url))
        assert unchanged.returncode == 0, unchanged.stderr[-3000:]
        unchanged_articles, unchanged_listings = sum(site.article_requests().values()), site.listing_requests()

    stored = _stored(db_url)
    assert sorted(stored) == sorted(urls)  # every article, each once
    # The next run indexed them all (what the killed run left at its start, its own at its end).
    indexed, pending = _search_index(db_url)
    assert pending == 0 and indexed == set(urls) and _found_by_search(db_url, set(urls)) == set(urls)
    # The re-run fetched exactly what the killed run had not stored, each page once.
    assert len(fetched_again) == len(urls) - len(after_kill) and set(fetched_again.values()) == {1}
    assert [run.status for run in _runs(db_url)] == ["interrupted", "finished", "finished"]
    walk = _walk(db_url)
    assert walk.walk_complete and walk.boundary_url == urls[0]
    # Then an unchanged re-run costs one listing page, no article.
    assert (unchanged_listings, unchanged_articles) == (1, 0)


def test_a_crawl_stopped_by_sigterm_writes_what_it_fetched_and_the_next_run_completes_it(big_site, tmp_path):
    root, urls = big_site
    db_url = f"sqlite:///{tmp_path / 'stopped.db'}"
    with CountingSite(root, article_delay=0.03) as site:
        stopped = _interrupt(site, db_url, signal.SIGTERM, 150)
        served_before_stop = site.article_requests()
        assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-2000:]
        after_stop = set(_stored(db_url))
        site.reset()
        again = run_cascrawl(*_crawl_args(site.url, db_url))
        assert again.returncode == 0, again.stderr[-3000:]
        fetched_again = site.article_requests()

    # Every page the stopped run fetched was written (the requests in flight finished first) ...
    assert len(after_stop) == len(served_before_stop) and len(after_stop) < len(urls)
    runs = _runs(db_url)
    assert runs[0].status == "stopped" and runs[0].stats["finish_reason"] == "shutdown"
    assert "sections syky were not walked to their end" in stopped.stdout
    # ... so across both runs each article page was fetched exactly once, and all are stored once.
    assert not set(fetched_again) & set(served_before_stop)
    assert len(fetched_again) + len(served_before_stop) == len(urls)
    assert sorted(_stored(db_url)) == sorted(urls)


def test_an_incremental_run_interrupted_after_its_first_page_of_new_articles_is_completed(tmp_path):
    root = tmp_path / "site"
    old = build_large_section(root, SECTION, count=40, per_page=10)
    db_url = f"sqlite:///{tmp_path / 'catchup.db'}"
    with CountingSite(root, article_delay=0.05) as site:
        first = run_cascrawl(*_crawl_args(site.url, db_url))
        assert first.returncode == 0, first.stderr[-3000:]
        urls = build_large_section(root, SECTION, count=75, per_page=10)  # 35 new articles on top
        new = [url for url in urls if url not in old]
        site.reset()
        # Killed once the first listing page of new articles is stored (batches of 5).
        process = subprocess.Popen(
            [sys.executable, "-m", "cascrawl", *_crawl_args(site.url, db_url, "-s", "CASCRAWL_DB_BATCH_SIZE=5",
                                                           "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=os.environ.copy())
        deadline = time.monotonic() + 60
        while not set(new[:10]) <= set(_stored(db_url)):
            assert process.poll() is None, process.communicate()[1][-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        interrupted_with = set(_stored(db_url))
        assert set(new) - interrupted_with, "the run finished before it was killed"
        again = run_cascrawl(*_crawl_args(site.url, db_url))
        assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(_stored(db_url)) == sorted(urls)


def test_max_pages_walks_part_and_never_moves_the_boundary(tmp_path):
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=50, per_page=10)
    db_url = f"sqlite:///{tmp_path / 'maxpages.db'}"
    with CountingSite(root) as site:
        part = run_cascrawl(*_crawl_args(site.url, db_url, "--max-pages", "2"))
        assert part.returncode == 0, part.stderr[-2000:]
        assert len(_stored(db_url)) == 20
        walk = _walk(db_url)
        assert walk.boundary_url is None and not walk.walk_complete and (walk.walk_pages, walk.pages_total) == (2, 5)
        status = run_cascrawl("stats", "--db", db_url)
        assert "backfill incomplete: 3 listing pages left (of 5)" in status.stdout, status.stdout
        rest = run_cascrawl(*_crawl_args(site.url, db_url))
        assert rest.returncode == 0, rest.stderr[-2000:]
    assert sorted(_stored(db_url)) == sorted(urls)
    assert _walk(db_url).boundary_url == urls[0]


def test_overlap_pages_walks_that_many_pages_from_the_boundary(tmp_path):
    root = tmp_path / "site"
    build_large_section(root, SECTION, count=50, per_page=10)
    db_url = f"sqlite:///{tmp_path / 'overlap.db'}"
    with CountingSite(root) as site:
        assert run_cascrawl(*_crawl_args(site.url, db_url)).returncode == 0
        listings = []
        for overlap in (1, 3, 9):
            site.reset()
            result = run_cascrawl(*_crawl_args(site.url, db_url, "-s", f"CASCRAWL_OVERLAP_PAGES={overlap}"))
            assert result.returncode == 0, result.stderr[-2000:]
            listings.append(site.listing_requests())
    assert listings == [1, 3, 5]  # 9 is more than the listing has: it ends at its last page


def test_new_articles_that_push_the_boundary_down_are_all_fetched(tmp_path):
    """25 new articles: the boundary entry moves from page 1 to page 3; the run walks to it, fetches
    the 25 new ones and nothing else."""
    root = tmp_path / "site"
    old = build_large_section(root, SECTION, count=50, per_page=10)
    db_url = f"sqlite:///{tmp_path / 'pushed.db'}"
    with CountingSite(root) as site:
        assert run_cascrawl(*_crawl_args(site.url, db_url)).returncode == 0
        urls = build_large_section(root, SECTION, count=75, per_page=10)
        site.reset()
        result = run_cascrawl(*_crawl_args(site.url, db_url))
        assert result.returncode == 0, result.stderr[-2000:]
        articles, listings = site.article_requests(), site.listing_requests()
    assert len(articles) == 25 and listings == 3
    assert sorted(_stored(db_url)) == sorted(urls)
    assert _walk(db_url).boundary_url == urls[0] != old[0]


def test_an_empty_listing_page_in_the_middle_leaves_the_walk_incomplete(tmp_path):
    """A listing page that lists nothing where the pager announces more is a glitch of the site, not
    proof of anything: the walk goes on, but does not count as complete, so the next run walks again;
    the run is degraded (exit 2) and names the page."""
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=30, per_page=10)
    page = root / SECTION / "index_1.shtml"
    kept = page.read_text("utf-8")
    head, rest = kept.split('<div id="content">', 1)
    page.write_text(head + '<div id="content">\n</div>' + rest.split("</div>", 1)[1], "utf-8")
    db_url = f"sqlite:///{tmp_path / 'empty.db'}"
    with CountingSite(root) as site:
        first = run_cascrawl(*_crawl_args(site.url, db_url))
        assert first.returncode == 2, first.stdout + first.stderr[-2000:]
        assert f"{site.url}/{SECTION}/index_1.shtml (no article entries)" in first.stdout, first.stdout
    assert sorted(_stored(db_url)) == sorted(urls[:10] + urls[20:])
    walk = _walk(db_url)
    assert walk.boundary_url is None and not walk.walk_complete
    page.write_text(kept, "utf-8")
    with CountingSite(root) as site:
        assert run_cascrawl(*_crawl_args(site.url, db_url)).returncode == 0
        assert len(site.article_requests()) == 10  # only page 2's articles
    assert sorted(_stored(db_url)) == sorted(urls)
    assert _walk(db_url).boundary_url == urls[0]


def test_a_listing_page_that_fails_leaves_the_boundary_where_it_was(tmp_path):
    root = tmp_path / "site"
    old = build_large_section(root, SECTION, count=30, per_page=10)
    db_url = f"sqlite:///{tmp_path / 'failed.db'}"
    with CountingSite(root) as site:
        assert run_cascrawl(*_crawl_args(site.url, db_url)).returncode == 0
        urls = build_large_section(root, SECTION, count=55, per_page=10)  # 25 new: the boundary is on page 3
        site.failing = {f"/{SECTION}/index_1.shtml"}
        failed = run_cascrawl(*_crawl_args(site.url, db_url, "-s", "RETRY_TIMES=0"))
        assert failed.returncode == 2  # finished with failures
        assert "listing page(s) could not be fetched" in failed.stdout
        assert _walk(db_url).boundary_url == old[0]
        site.failing = set()
        assert run_cascrawl(*_crawl_args(site.url, db_url)).returncode == 0
    assert sorted(_stored(db_url)) == sorted(urls)
    assert _walk(db_url).boundary_url == urls[0]


# --- rejected pages: known, tried again on a schedule ---

def test_a_rejected_page_is_not_fetched_by_the_next_unchanged_run_but_is_retried_when_due(tmp_path):
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=15, per_page=10)
    empty = root / SECTION / urls[3].split(f"/{SECTION}/", 1)[1]  # on the first listing page
    gone = root / SECTION / urls[12].split(f"/{SECTION}/", 1)[1]  # on the second
    html = empty.read_text("utf-8")
    empty.write_text(re.sub(r'(<div class="trs_editor_view[^"]*">).*?(</div>)', r"\1\2", html, count=1, flags=re.S), "utf-8")
    gone.unlink()
    db_url = f"sqlite:///{tmp_path / 'rejects.db'}"
    with CountingSite(root) as site:
        first = run_cascrawl(*_crawl_args(site.url, db_url))
        assert first.returncode == 0, first.stderr[-2000:]
        site.reset()
        second = run_cascrawl(*_crawl_args(site.url, db_url))
        assert second.returncode == 0, second.stderr[-2000:]
        second_articles, second_listings = sum(site.article_requests().values()), site.listing_requests()
        stats = _last_stats(db_url)
        assert request_counts(stats).articles == 0

        engine = create_engine(db_url)
        with Session(engine) as session:
            schedule = {row.url: row for row in session.scalars(select(Refetch))}
            assert {url: (row.reason, row.permanent, row.attempts) for url, row in schedule.items()} == {
                urls[3]: ("missing_body", True, 1), urls[12]: ("http_404", True, 1)}
            waits = {url: row.next_try_at - row.last_tried_at for url, row in schedule.items()}
            assert set(waits.values()) == {timedelta(days=1)}
            # a day later, both are due: fetched directly, and the repaired one is stored
            session.execute(update(Refetch).values(next_try_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
            session.commit()
        engine.dispose()
        empty.write_text(html, "utf-8")
        site.reset()
        third = run_cascrawl(*_crawl_args(site.url, db_url))
        assert third.returncode == 0, third.stderr[-2000:]
        retried = site.article_requests()
        listing = run_cascrawl("rejects", "--db", db_url)

    assert (second_articles, second_listings) == (0, 1)
    assert sorted(retried) == sorted(f"/{SECTION}/" + url.split(f"/{SECTION}/", 1)[1] for url in (urls[3], urls[12]))
    assert urls[3] in _stored(db_url)
    engine = create_engine(db_url)
    with Session(engine) as session:
        [row] = session.scalars(select(Refetch)).all()
        assert (row.url, row.attempts) == (urls[12], 2)
        assert row.next_try_at - row.last_tried_at == timedelta(days=2)  # the back-off grows
        assert session.scalar(select(func.count()).select_from(Article)) == 14
    engine.dispose()
    assert "next try" in listing.stdout


def test_a_transient_failure_is_tried_again_at_the_next_run(tmp_path):
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=5, per_page=10)
    db_url = f"sqlite:///{tmp_path / 'transient.db'}"
    with CountingSite(root) as site:
        site.failing = {f"/{SECTION}/" + urls[2].split(f"/{SECTION}/", 1)[1]}
        first = run_cascrawl(*_crawl_args(site.url, db_url, "-s", "RETRY_TIMES=0"))
        assert first.returncode == 0, first.stderr[-2000:]
        assert urls[2] not in _stored(db_url)
        assert _walk(db_url).boundary_url == urls[0]  # the walk is complete; the failed page is scheduled
        site.failing = set()
        site.reset()
        second = run_cascrawl(*_crawl_args(site.url, db_url))
        assert second.returncode == 0, second.stderr[-2000:]
        assert len(site.article_requests()) == 1
    assert sorted(_stored(db_url)) == sorted(urls)
    assert _last_stats(db_url)["cascrawl/refetch/due"] == 1


def test_the_retry_wait_of_a_rejected_page_is_capped_by_the_setting(tmp_path):
    """CASCRAWL_REJECT_RETRY_MAX_DAYS caps the 1, 2, 4, … days between tries of a rejected page: with 1.5,
    the second rejection in a row waits 1.5 days, not 2."""
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=3, per_page=10)
    (root / SECTION / urls[1].split(f"/{SECTION}/", 1)[1]).unlink()
    db_url = f"sqlite:///{tmp_path / 'cap.db'}"
    engine = create_engine(db_url)
    waits = []
    with CountingSite(root) as site:
        for _ in range(2):
            result = run_cascrawl(*_crawl_args(site.url, db_url, "-s", "CASCRAWL_REJECT_RETRY_MAX_DAYS=1.5"))
            assert result.returncode == 0, result.stderr[-2000:]
            with Session(engine) as session:
                [row] = session.scalars(select(Refetch)).all()
                waits.append((row.url, row.attempts, row.next_try_at - row.last_tried_at))
                session.execute(update(Refetch).values(next_try_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
                session.commit()
    engine.dispose()
    assert waits == [(urls[1], 1, timedelta(days=1)), (urls[1], 2, timedelta(days=1.5))]
