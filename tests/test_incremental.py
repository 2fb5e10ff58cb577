"""Incremental runs on a copy of the site served on loopback, counted in requests (the crawl_runs record)."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cascrawl.crawl import request_counts
from cascrawl.dates import BEIJING
from cascrawl.db import Article, ArticleRevision, Database, reads
from cascrawl.db.history import crawl_history
from tests.support.fixture_site import add_new_articles, serve_site

from .conftest import FAST, SITE, expected_articles, run_cascrawl
from .db_backends import db_url, postgres_server  # noqa: F401  (fixtures)
from .loopback import CountingSite
from .test_db_store import article

SECTIONS = ["syky", "cm", "sygz"]


def _crawl(base_url, db_url, *extra):
    result = run_cascrawl("crawl", "--base-url", base_url, "--db", db_url, "--section", ",".join(SECTIONS), *FAST, *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _last_run_stats(db_url) -> dict:
    database = Database(db_url)
    try:
        return reads.get_run(database)["stats"]
    finally:
        database.close()


def _requests(stats) -> tuple[int, int, int]:
    """(all requests, listing pages fetched, article pages fetched) of one run."""
    counts = request_counts(stats)
    return counts.total, counts.listing, counts.articles


@pytest.fixture()
def site(tmp_path):
    copy = tmp_path / "site"
    shutil.copytree(SITE, copy)
    return copy


def test_a_first_run_walks_each_listing_page_once_and_requests_nothing_past_the_last(site, tmp_path):
    """The pager announces how many listing pages there are: the walk fetches each of them once and
    asks for no page the site does not have (robots.txt aside)."""
    with CountingSite(site) as counting:
        _crawl(counting.url, f"sqlite:///{tmp_path / 'walk.db'}")
        requested = dict(counting.requests)

    def on_site(path: str) -> bool:
        file = site / path.lstrip("/")
        return (file / "index.shtml").is_file() if path.endswith("/") else file.is_file()

    assert [path for path in requested if not on_site(path)] == ["/robots.txt"]
    listing_pages = {f"/{s}/" if page.name == "index.shtml" else f"/{s}/{page.name}"
                     for s in SECTIONS for page in (site / s).glob("index*.shtml")}
    assert {path: n for path, n in requested.items() if path in listing_pages} == dict.fromkeys(listing_pages, 1)


def test_a_second_run_fetches_only_the_first_listing_page_of_each_section(site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'inc.db'}"
    expected = [a for a in expected_articles() if a["section"] in SECTIONS]
    with serve_site(site) as base:
        _crawl(base, db_url)
        first = _requests(_last_run_stats(db_url))
        _crawl(base, db_url)
        second_stats = _last_run_stats(db_url)
    assert first[2] >= len(expected)
    total, listing, articles = _requests(second_stats)
    assert (listing, articles) == (len(SECTIONS), 0)
    assert total == len(SECTIONS) + 1  # plus robots.txt
    assert second_stats["cascrawl/incremental/sections_stopped_early"] == len(SECTIONS)


def test_after_k_new_articles_exactly_k_articles_are_fetched(site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'k.db'}"
    with serve_site(site) as base:
        _crawl(base, db_url)
        new = add_new_articles(site, "cm", 2)
        _crawl(base, db_url)
        stats = _last_run_stats(db_url)
    total, listing, articles = _requests(stats)
    assert articles == 2
    assert stats["cascrawl/db/articles_inserted"] == 2
    engine = create_engine(db_url)
    with Session(engine) as session:
        stored = set(session.scalars(select(Article.url)))
    engine.dispose()
    assert set(new) <= stored


def test_a_full_run_fetches_every_article_again(site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'full.db'}"
    with serve_site(site) as base:
        _crawl(base, db_url)
        first = _requests(_last_run_stats(db_url))
        _crawl(base, db_url, "--full")
        again = _requests(_last_run_stats(db_url))
    assert again == first


def test_refresh_days_revalidates_with_conditional_gets_and_an_edit_becomes_a_revision(site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'refresh.db'}"
    recent = [a for a in expected_articles() if a["section"] in SECTIONS]
    with serve_site(site) as base:
        _crawl(base, db_url)
        _crawl(base, db_url, "--refresh-days", "36500")  # every stored article of these sections
        unchanged = _last_run_stats(db_url)
        edited = recent[0]
        page = edited["page"].relative_to(SITE)
        html = (site / page).read_text("utf-8")
        body = re.search(r"trs_editor_view|TRS_Editor", html).start()  # edit the first body paragraph
        (site / page).write_text(html[:body] + html[body:].replace("</p>", "（更正）</p>", 1), "utf-8")
        _crawl(base, db_url, "--refresh-days", "36500")
        after_edit = _last_run_stats(db_url)
    assert unchanged["cascrawl/refresh/requested"] == len(recent)
    assert unchanged["downloader/response_status_count/304"] == len(recent)
    assert unchanged.get("cascrawl/refresh/refetched", 0) == 0
    assert after_edit["downloader/response_status_count/304"] == len(recent) - 1
    assert after_edit["cascrawl/refresh/refetched"] == 1 and after_edit["cascrawl/db/articles_revised"] == 1
    engine = create_engine(db_url)
    with Session(engine) as session:
        article = session.scalars(select(Article).where(Article.url == edited["url"])).one()
        archived = session.scalars(select(ArticleRevision)).all()
    engine.dispose()
    assert article.revision == 2 and "（更正）" in article.text and article.last_modified
    assert [r.text for r in archived] == [edited["text"]]


def test_refresh_days_n_takes_the_articles_published_on_the_last_n_days_and_today(db_url):  # noqa: F811
    """README: `--refresh-days N` re-fetches the articles published in the last N days (Beijing time):
    published on or after today - N, in the sections crawled."""
    for _ in range(2):  # a second try only if Beijing's date changed while the test ran
        today = datetime.now(BEIJING).date()
        database = Database(db_url).open()
        try:
            database.upsert_articles([
                article(n, published_date=today - timedelta(days=age), published_at=None)
                for n, age in enumerate([0, 1, 2, 3], start=1)
            ] + [article(5, section="yw", published_date=today, published_at=None)],
                seen_at=datetime.now(timezone.utc))
        finally:
            database.close()
        found = [stored.url for stored in crawl_history(db_url, ["syky"], refresh_days=2).refresh]
        if datetime.now(BEIJING).date() == today:
            break
    assert found == [article(n)["url"] for n in (1, 2, 3)]  # newest first; 3 days old is out, so is section yw
    assert crawl_history(db_url, ["syky"], refresh_days=0).refresh == []
