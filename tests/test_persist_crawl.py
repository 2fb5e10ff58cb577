"""Real crawls of the fixture copy (served on 127.0.0.1) into real SQLite files and PostgreSQL databases.

Crawl twice: same articles, no duplicates, only last_seen_at moves. Edit one article's text on the
(copied) site and crawl again: revision 2, revision 1 kept in article_revisions.
"""

from __future__ import annotations

import shutil
import threading
import time
from http.server import SimpleHTTPRequestHandler

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from cascrawl.db import Article, ArticleRevision, CrawlRun, Reject
from tests.support.fixture_site import serve_site

from .conftest import FAST, SITE, expected_articles, run_cascrawl
from .db_backends import BACKENDS, fresh_database, postgres_server  # noqa: F401  (fixture)

ARTICLES = expected_articles()
SECTIONS = ",".join(sorted({a["section"] for a in ARTICLES}))
EDITED = "https://www.cas.cn/syky/202506/t20250614_5073157.shtml"  # 我国侵入式脑机接口进入临床试验阶段
EDITED_PAGE = "syky/202506/t20250614_5073157.shtml"
REMOVED_PAGE = "yw/202011/t20201124_4767900.shtml"
OLD_WORDS, NEW_WORDS = "高通量柔性电极", "超高通量柔性薄膜电极"


def table(db_url: str, model) -> list[dict]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            found = session.scalars(select(model).order_by(model.id)).all()
            return [{c.key: getattr(item, c.key) for c in model.__table__.columns} for item in found]
    finally:
        engine.dispose()


def search_index(db_url: str, phrase: str) -> tuple[set[str], int]:
    """(URLs the full-text index itself finds for `phrase`, articles waiting for the index): FTS5 on SQLite,
    the trigram-indexed articles_fts_documents on PostgreSQL (not search(), which also scans pending ones)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                query = ("SELECT url FROM articles WHERE id IN "
                         "(SELECT rowid FROM articles_fts WHERE articles_fts MATCH '\"' || :p || '\"')")
            else:
                query = ("SELECT url FROM articles WHERE id IN "
                         "(SELECT id FROM articles_fts_documents WHERE document LIKE '%' || :p || '%')")
            indexed = set(connection.execute(text(query), {"p": phrase}).scalars())
            pending = connection.execute(text("SELECT count(*) FROM articles_fts_pending")).scalar()
        return indexed, pending
    finally:
        engine.dispose()


def crawl(base_url: str, db_url: str, *extra: str, sections: str = SECTIONS):
    """A full crawl: every article fetched again, as the storage semantics are about what a re-fetch does."""
    result = run_cascrawl("crawl", "--full", "--base-url", base_url, "--db", db_url, "--section", sections, *FAST, *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("backend", BACKENDS)
def test_crawl_twice_then_edit_one_article_and_crawl_again(backend, request, tmp_path):
    db_url = fresh_database(backend, request, tmp_path)
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    with serve_site(site) as base_url:
        crawl(base_url, db_url)
        first = {row["url"]: row for row in table(db_url, Article)}
        # The run brought the full-text index up to date as it ended: every article in it, none waiting.
        assert search_index(db_url, OLD_WORDS) == ({EDITED}, 0)
        assert search_index(db_url, "中国科学院")[0] == {
            a["url"] for a in ARTICLES if "中国科学院" in a["title"] or "中国科学院" in a["text"]}
        crawl(base_url, db_url)
        second = table(db_url, Article)

        # Same articles, once each; nothing but last_seen_at moved (and the WARC record: the newer fetch's).
        assert len(second) == len(first) == len(ARTICLES)
        assert sorted(row["url"] for row in second) == sorted(a["url"] for a in ARTICLES)
        moved = {"last_seen_at", "warc_file", "warc_offset", "warc_record_id"}
        for row in second:
            old = first[row["url"]]
            assert row["last_seen_at"] > old["last_seen_at"]
            assert row["warc_record_id"] and row["warc_record_id"] != old["warc_record_id"]
            assert {k: v for k, v in row.items() if k not in moved} == {
                k: v for k, v in old.items() if k not in moved}, row["url"]
        assert table(db_url, ArticleRevision) == []

        # The site changes: one article's text is edited, another page disappears.
        page = site / EDITED_PAGE
        html = page.read_text(encoding="utf-8")
        assert OLD_WORDS in html
        page.write_text(html.replace(OLD_WORDS, NEW_WORDS), encoding="utf-8")
        (site / REMOVED_PAGE).unlink()
        result = crawl(base_url, db_url)

    third = {row["url"]: row for row in table(db_url, Article)}
    assert len(third) == len(ARTICLES)
    edited, original = third[EDITED], first[EDITED]
    assert edited["revision"] == 2 and NEW_WORDS in edited["text"] and OLD_WORDS not in edited["text"]
    assert edited["updated_at"] > original["updated_at"] and edited["first_seen_at"] == original["first_seen_at"]
    assert edited["id"] == original["id"]
    [archived] = table(db_url, ArticleRevision)
    assert (archived["article_id"], archived["revision"]) == (original["id"], 1)
    assert (archived["text"], archived["content_hash"], archived["updated_at"]) == (
        original["text"], original["content_hash"], original["updated_at"])
    assert archived["replaced_at"] == edited["updated_at"]
    for url, row in third.items():
        if url != EDITED:
            assert (row["revision"], row["content_hash"]) == (1, first[url]["content_hash"]), url

    # Three runs recorded, closed with their stats; the missing page is a reject of the third run.
    runs = table(db_url, CrawlRun)
    assert [(run["status"], run["reason"]) for run in runs] == [("finished", "finished")] * 3
    assert all(run["finished_at"] > run["started_at"] for run in runs)
    assert runs[0]["stats"]["cascrawl/db/articles_inserted"] == len(ARTICLES)
    assert runs[1]["stats"]["cascrawl/db/articles_unchanged"] == len(ARTICLES)
    assert runs[2]["stats"]["cascrawl/db/articles_revised"] == 1
    assert runs[2]["sections"] == SECTIONS.split(",") and runs[2]["settings"]["DOWNLOAD_DELAY"] == 0.0
    assert [(r["url"].endswith(REMOVED_PAGE), r["reason"], r["run_id"]) for r in table(db_url, Reject)] == [
        (True, "http_404", runs[2]["id"])]
    assert "1 rejected (http_404: 1)" in result.stdout

    # The edited text replaced the old one in the index by the end of the run (the revision made it wait).
    assert search_index(db_url, NEW_WORDS) == ({EDITED}, 0) and search_index(db_url, OLD_WORDS) == (set(), 0)
    found = run_cascrawl("db", "search", "超高通量", "--db", db_url)
    assert found.returncode == 0 and EDITED in found.stdout, found.stderr


def test_batches_are_flushed_by_size_and_at_close(site_url, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'batches.db'}"
    run_cascrawl_ok = crawl(site_url, db_url, "-s", "CASCRAWL_DB_BATCH_SIZE=4", "-s", "CASCRAWL_DB_FLUSH_SECONDS=0")
    assert f"{len(ARTICLES)} articles stored" in run_cascrawl_ok.stdout
    [run] = table(db_url, CrawlRun)
    full, rest = divmod(len(ARTICLES), 4)
    assert run["stats"]["cascrawl/db/flushes"] == full + (1 if rest else 0)
    assert "cascrawl/db/flushes_on_timer" not in run["stats"]
    assert run["settings"]["CASCRAWL_DB_BATCH_SIZE"] == 4


def test_a_slow_crawl_is_flushed_by_the_timer_before_the_batch_is_full(tmp_path):
    """A batch of 1000 never fills: the articles reach the database by the timer, while the crawl is still
    running. The site holds back its last article page until the database shows articles (an event, not
    a delay that has to outlast the timer): with the timer broken the page is released after 15 s with
    nothing stored yet, and the test fails."""
    db_url = f"sqlite:///{tmp_path / 'timer.db'}"
    pages = sorted("/" + a["url"].split("://", 1)[1].split("/", 1)[1] for a in ARTICLES if a["section"] == "syky")
    requested, seen_while_held, lock = [], [], threading.Lock()

    def stored_articles() -> int:
        try:
            return len(table(db_url, Article))
        except Exception:  # the schema not created yet, or the file locked by a commit: look again
            return 0

    def hold_the_last_page(handler):
        with lock:
            requested.append(handler.path)
            last = len(requested) == len(pages)
        if last:
            deadline = time.monotonic() + 15  # under DOWNLOAD_TIMEOUT (20 s): no retry
            while not stored_articles() and time.monotonic() < deadline:
                time.sleep(0.05)
            seen_while_held.append(stored_articles())
        SimpleHTTPRequestHandler.do_GET(handler)

    with serve_site(SITE, routes={page: hold_the_last_page for page in pages}) as base_url:
        crawl(base_url, db_url, "-s", "CASCRAWL_DB_BATCH_SIZE=1000", "-s", "CASCRAWL_DB_FLUSH_SECONDS=0.2",
              sections="syky")
    assert sorted(requested) == pages
    # While the last page was held, the earlier articles (some or all of them) were already stored.
    [stored_before_the_last] = seen_while_held
    assert 1 <= stored_before_the_last < len(pages)
    [run] = table(db_url, CrawlRun)
    assert run["stats"]["cascrawl/db/flushes_on_timer"] >= 1
    assert run["stats"]["cascrawl/db/flushes"] >= 2  # at least one by the timer, then the rest at close
    assert len(table(db_url, Article)) == len(pages)


def test_a_database_refusing_writes_stops_the_crawl_keeps_the_articles_in_the_spool(postgres_server, site_url, tmp_path):  # noqa: F811
    """A role that may record runs and rejects but not write articles: the first flush fails for real
    (not a connection failure: no outage to ride out). The run is failed, nothing fetched is lost:
    the articles wait in the spool, and the next run, with the right grants, writes them first."""
    from sqlalchemy.engine import make_url

    db_url = postgres_server.create_database()
    role = f"{postgres_server.prefix}_writer"
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        assert run_cascrawl("db", "upgrade", "--db", db_url).returncode == 0
        with admin.connect() as connection:
            for statement in (
                f'CREATE ROLE "{role}" LOGIN',
                f'GRANT USAGE ON SCHEMA public TO "{role}"',
                f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"',
                f'GRANT INSERT, UPDATE ON crawl_runs, rejects TO "{role}"',
                f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
            ):
                connection.exec_driver_sql(statement)
        as_role = make_url(db_url).set(username=role).render_as_string(hide_password=False)
        spool = tmp_path / "spool"
        crawl_args = ("crawl", "--base-url", site_url, "--db", as_role, "--section", "syky", *FAST,
                      "-s", "CASCRAWL_DB_BATCH_SIZE=2", "-s", f"CASCRAWL_SPOOL_DIR={spool}")
        result = run_cascrawl(*crawl_args)
        assert result.returncode == 1
        assert "could not store" in result.stderr and "permission denied for table articles" in result.stderr
        assert "finish reason: database_error" in result.stdout and "Traceback" not in result.stderr
        [run] = table(db_url, CrawlRun)
        assert run["status"] == "failed" and run["reason"].startswith("database error: permission denied")
        assert run["stats"]["cascrawl/db/articles_spooled"] >= 2 and run["finished_at"] is not None
        assert "cascrawl/db/articles_lost" not in run["stats"]
        assert table(db_url, Article) == []
        [spooled] = spool.glob("*.jsonl")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
        again = run_cascrawl(*crawl_args)
        assert again.returncode == 0, again.stderr[-2000:]
        assert not spooled.exists()
        stored = {row["url"] for row in table(db_url, Article)}
        assert len(stored) == sum(1 for a in ARTICLES if a["section"] == "syky")
        second = table(db_url, CrawlRun)[-1]
        assert second["stats"]["cascrawl/db/spool_replayed_articles"] == run["stats"]["cascrawl/db/articles_spooled"]
    finally:
        admin.dispose()
        postgres_server.drop_database(db_url)
        with postgres_server.engine.connect() as connection:
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
