"""The real Scrapy engine crawls the fixture copy served on 127.0.0.1 into a real SQLite file."""

from __future__ import annotations

import json
import sqlite3

from .conftest import FAST, SITE, expected_articles, run_cascrawl

ARTICLES = expected_articles()


def _rows(db_url: str) -> dict[str, sqlite3.Row]:
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    connection.row_factory = sqlite3.Row
    try:
        return {row["url"]: row for row in connection.execute("SELECT * FROM articles")}
    finally:
        connection.close()


def test_every_fixture_article_is_stored_once_with_the_expected_fields(crawled):
    db_url, result = crawled
    rows = _rows(db_url)
    assert sorted(rows) == sorted(a["url"] for a in ARTICLES)
    for expected in ARTICLES:
        row = rows[expected["url"]]
        assert (row["title"], row["published_date"], row["source"], row["text"]) == (
            expected["title"], expected["published_date"], expected["source"], expected["text"]), expected["url"]
    assert "rejected" in result.stdout and f"{len(ARTICLES)} articles stored" in result.stdout


def test_export_prints_the_contract(crawled):
    db_url, _ = crawled
    result = run_cascrawl("export", "--db", db_url)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == len(ARTICLES)
    by_url = {record["url"]: record for record in records}
    for expected in ARTICLES:
        record = by_url[expected["url"]]
        assert list(record) == ["url", "section", "title", "published_date", "published_at", "source", "author",
                                "editor", "text", "attachments", "images", "videos", "media", "content_hash",
                                "first_seen_at", "updated_at"]
        for key in ("section", "title", "published_date", "published_at", "source", "author", "editor", "text",
                    "attachments", "images"):
            assert record[key] == expected[key], (expected["url"], key)
        assert record["first_seen_at"].endswith("+08:00") and len(record["content_hash"]) == 64


def test_a_second_full_crawl_changes_nothing_but_last_seen(crawled_copy, site_url):
    db_url, _ = crawled_copy
    before = _rows(db_url)
    result = run_cascrawl("crawl", "--full", "--base-url", site_url, "--db", db_url, "--section", "syky,cm", *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    after = _rows(db_url)
    assert sorted(after) == sorted(before)
    for url, row in after.items():
        old = before[url]
        assert (row["id"], row["content_hash"], row["updated_at"], row["first_seen_at"], row["revision"]) == (
            old["id"], old["content_hash"], old["updated_at"], old["first_seen_at"], old["revision"])
        if row["section"] in ("syky", "cm"):
            assert row["last_seen_at"] > old["last_seen_at"]


def test_a_missing_section_degrades_the_run_not_a_crash(site_url, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'missing.db'}"
    # `--section nosuch` is refused before crawling (tests/test_cli_sections.py); the setting is not checked
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "-s", "CASCRAWL_SECTIONS=nosuch,cm", *FAST)
    assert result.returncode == 2, result.stderr[-3000:]  # content missing: degraded (issue 22)
    assert "1 section(s) answered 404 or 410: nosuch" in result.stdout
    assert "'nosuch'" in result.stderr and "404" in result.stderr
    assert len(_rows(db_url)) == sum(1 for a in ARTICLES if a["section"] == "cm")


def test_max_pages_limits_the_listing_pages_walked(site_url, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'one-page.db'}"
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "syky", "--max-pages", "1", *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "listing pages 1," in result.stdout
    first_page = json.loads((SITE / "syky" / "index.expected.json").read_text("utf-8"))
    assert sorted(_rows(db_url)) == sorted(e["url"] for e in first_page["entries"])


def test_scrapy_crawl_from_the_repository_root_works_too(site_url, tmp_path):
    import os
    import subprocess
    import sys

    from .conftest import REPO

    db_url = f"sqlite:///{tmp_path / 'scrapy.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "cas_news", "-a", "sections=cm", "-a", f"base_url={site_url}",
         "-s", f"CASCRAWL_DATABASE_URL={db_url}", *FAST],
        capture_output=True, text=True, timeout=180, cwd=REPO, env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(_rows(db_url)) == sum(1 for a in ARTICLES if a["section"] == "cm")


def test_an_article_that_is_gone_is_a_recorded_rejection_not_a_silent_loss(tmp_path):
    import shutil

    from tests.support.fixture_site import serve_site

    site = tmp_path / "site"
    shutil.copytree(SITE / "cm", site / "cm")
    listing = site / "cm" / "index.shtml"
    dead = "./202501/t20250130_5046999.shtml"
    entry = f'<li><span>2025-01-30</span><a href="{dead}" title="已删除">已删除</a></li>'
    html = listing.read_text("utf-8").replace('<div id="content">', '<div id="content">' + entry, 1)
    listing.write_text(html, "utf-8")
    db_url = f"sqlite:///{tmp_path / 'gone.db'}"
    with serve_site(site) as url:
        result = run_cascrawl("crawl", "--base-url", url, "--db", db_url, "--section", "cm", *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    rejects = connection.execute("SELECT url, reason FROM rejects").fetchall()
    connection.close()
    assert rejects == [(f"{url}/cm/202501/t20250130_5046999.shtml", "http_404")]
    assert len(_rows(db_url)) == sum(1 for a in ARTICLES if a["section"] == "cm")
    assert "1 rejected (http_404: 1)" in result.stdout


def test_the_demo_serves_the_bundled_copy_and_stores_every_fixture_article(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = run_cascrawl("demo", "--db", db_url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "serving the bundled fixture copy of www.cas.cn at http://127.0.0.1:" in result.stdout
    rows = _rows(db_url)
    assert sorted(rows) == sorted(a["url"] for a in ARTICLES)
    for expected in ARTICLES:
        assert (rows[expected["url"]]["title"], rows[expected["url"]]["text"]) == (expected["title"], expected["text"])
