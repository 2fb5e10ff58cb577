"""The database layer on real SQLite files and a real PostgreSQL server: upserts, revisions, rejects, runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cascrawl.db import Article, ArticleRevision, CrawlRun, Database, Reject, articles
from cascrawl.text import content_hash

from .db_backends import db_url, postgres_server  # noqa: F401  (fixtures)

BEIJING = timezone(timedelta(hours=8))


def article(n: int = 1, **changes) -> dict:
    """An article item as the pipelines hand it over (with a few keys the database does not store)."""
    row = {
        "url": f"https://www.cas.cn/syky/202506/t20250614_{5073100 + n}.shtml",
        "fetched_url": f"http://127.0.0.1:8000/syky/202506/t20250614_{5073100 + n}.shtml",
        "docid": 5073100 + n,
        "section": "syky",
        "title": f"我国侵入式脑机接口进入临床试验阶段（{n}）",
        "published_date": date(2025, 6, 14),
        "published_at": datetime(2025, 6, 14, 16, 30, tzinfo=BEIJING),
        "source": "脑科学与智能技术卓越创新中心",
        "author": None,
        "editor": "王敏",
        "text": f"6月14日，记者获悉，侵入式脑机接口系统已进入临床试验阶段。\n第{n}篇。",
        "html": f"<p>6月14日……</p><p>第{n}篇。</p>",
        "attachments": [{"url": "https://www.cas.cn/syky/202506/P020250614.pdf", "name": "附件1"}],
        "images": [{"url": "https://www.cas.cn/syky/202506/W020250614.jpg", "caption": "电极"}],
        "videos": [],
        "script": "simplified",
        "template": "current",
        "provenance": {"title": "meta:ArticleTitle", "date": "meta:PubDate"},
        "fetched_at": datetime.now(timezone.utc),  # not a column: ignored
        "http_status": 200,
    }
    row.update(changes)
    row["content_hash"] = content_hash(row["title"], row["text"])
    return row


@pytest.fixture
def database(db_url):  # noqa: F811
    opened = Database(db_url).open()
    yield opened
    opened.close()


def rows(database: Database, model) -> list[dict]:
    with Session(database.engine) as session:
        found = session.scalars(select(model).order_by(model.id)).all()
        return [{c.key: getattr(item, c.key) for c in model.__table__.columns} for item in found]


def test_a_new_batch_is_inserted_with_revision_1_and_aware_timestamps(database):
    seen = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
    result = database.upsert_articles([article(1), article(2), article(3)], seen_at=seen)
    assert (result.inserted, result.stored, result.rejected) == (3, 3, [])
    stored = rows(database, Article)
    assert [row["url"] for row in stored] == [article(n)["url"] for n in (1, 2, 3)]
    first = stored[0]
    assert first["revision"] == 1
    assert first["first_seen_at"] == first["last_seen_at"] == first["updated_at"] == seen
    assert first["published_at"] == datetime(2025, 6, 14, 8, 30, tzinfo=timezone.utc)
    assert first["published_at"].tzinfo is not None
    assert first["attachments"] == article(1)["attachments"] and first["provenance"]["date"] == "meta:PubDate"
    assert first["title"] == "我国侵入式脑机接口进入临床试验阶段（1）"


def test_the_same_batch_twice_moves_only_last_seen_at(database):
    first_seen = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
    database.upsert_articles([article(1), article(2)], seen_at=first_seen)
    before = rows(database, Article)
    again = first_seen + timedelta(hours=6)
    result = database.upsert_articles([article(1), article(2)], seen_at=again)
    assert (result.unchanged, result.inserted, result.revised, result.refreshed) == (2, 0, 0, 0)
    after = rows(database, Article)
    assert len(after) == 2
    for old, new in zip(before, after):
        assert new["last_seen_at"] == again
        assert {k: v for k, v in new.items() if k != "last_seen_at"} == {k: v for k, v in old.items() if k != "last_seen_at"}
    assert rows(database, ArticleRevision) == []


def test_changed_content_gets_revision_2_and_the_old_version_is_kept(database):
    t1 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    t2, t3 = t1 + timedelta(days=1), t1 + timedelta(days=2)
    original = article(1)
    database.upsert_articles([original, article(2)], seen_at=t1)
    database.upsert_articles([original], seen_at=t2)  # seen again, unchanged
    edited = article(1, text=original["text"] + "\n更正：电极直径为头发丝的五十分之一。")
    result = database.upsert_articles([edited, article(2)], seen_at=t3)
    assert (result.revised, result.unchanged) == (1, 1)

    current = {row["url"]: row for row in rows(database, Article)}[original["url"]]
    assert (current["revision"], current["text"], current["content_hash"]) == (2, edited["text"], edited["content_hash"])
    assert (current["first_seen_at"], current["updated_at"], current["last_seen_at"]) == (t1, t3, t3)
    archived = rows(database, ArticleRevision)
    assert len(archived) == 1
    old = archived[0]
    assert (old["article_id"], old["revision"], old["url"]) == (current["id"], 1, original["url"])
    assert (old["title"], old["text"], old["content_hash"]) == (original["title"], original["text"], original["content_hash"])
    assert (old["updated_at"], old["last_seen_at"], old["replaced_at"]) == (t1, t2, t3)
    assert old["images"] == original["images"] and old["published_date"] == original["published_date"]

    # A third version: revision 3, both earlier versions archived, in order.
    database.upsert_articles([article(1, title="我国侵入式脑机接口进入临床试验阶段（更新）")], seen_at=t3 + timedelta(days=1))
    assert [(r["revision"], r["text"]) for r in rows(database, ArticleRevision)] == [(1, original["text"]), (2, edited["text"])]
    assert {row["url"]: row for row in rows(database, Article)}[original["url"]]["revision"] == 3


def test_fields_outside_the_export_contract_refresh_the_row_without_moving_updated_at(database):
    t1 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    database.upsert_articles([article(1)], seen_at=t1)
    moved = article(1, fetched_url="https://www.cas.cn/syky/202506/t20250614_5073101.shtml", template="mid",
                    html="<p>另一份副本</p>", provenance={"title": "h1"})
    result = database.upsert_articles([moved], seen_at=t1 + timedelta(days=1))
    assert (result.refreshed, result.revised) == (1, 0)
    [row] = rows(database, Article)
    assert (row["fetched_url"], row["template"], row["html"], row["provenance"]) == (
        moved["fetched_url"], "mid", "<p>另一份副本</p>", {"title": "h1"})
    assert (row["revision"], row["updated_at"], row["last_seen_at"]) == (1, t1, t1 + timedelta(days=1))
    assert rows(database, ArticleRevision) == []


CONTRACT_METADATA_CHANGES = {
    "section": "yw", "published_date": date(2025, 6, 15), "published_at": datetime(2025, 6, 14, 18, 0, tzinfo=BEIJING),
    "source": "中国科学院", "author": "张某某", "editor": "李华", "attachments": [], "images": [],
    "videos": [{"url": "https://www.cas.cn/syky/202506/V1.mp4", "type": None, "poster": None}],
}


def test_every_metadata_key_of_the_export_contract_is_one_that_moves_updated_at():
    from cascrawl.db.articles import CONTRACT_METADATA_COLUMNS
    from cascrawl.export import EXPORT_KEYS

    identity_content_and_timestamps = {"url", "title", "text", "content_hash", "first_seen_at", "updated_at"}
    # `media` lives in its own table: record_media moves updated_at itself (tests/test_media.py).
    assert set(CONTRACT_METADATA_COLUMNS) == set(EXPORT_KEYS) - identity_content_and_timestamps - {"media"}
    assert set(CONTRACT_METADATA_CHANGES) == set(CONTRACT_METADATA_COLUMNS)


@pytest.mark.parametrize("name", sorted(CONTRACT_METADATA_CHANGES))
def test_a_metadata_only_change_the_export_contract_carries_moves_updated_at_without_a_revision(database, name):
    t1 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    t2 = t1 + timedelta(days=1)
    database.upsert_articles([article(1)], seen_at=t1)
    changed = article(1, **{name: CONTRACT_METADATA_CHANGES[name]})
    assert changed[name] != article(1)[name] and changed["content_hash"] == article(1)["content_hash"]
    result = database.upsert_articles([changed], seen_at=t2)
    assert (result.refreshed, result.revised, result.unchanged) == (1, 0, 0)
    [row] = rows(database, Article)
    assert row[name] == changed[name]
    assert (row["revision"], row["first_seen_at"], row["updated_at"], row["last_seen_at"]) == (1, t1, t2, t2)
    assert rows(database, ArticleRevision) == []  # the content did not change: nothing to archive


def test_one_refused_row_is_recorded_in_rejects_and_the_rest_of_the_batch_is_stored(database):
    run_id = database.start_run(base_url="https://www.cas.cn", sections=["syky"], settings={})
    no_title = article(2, title=None)  # NOT NULL
    naive = article(3, published_at=datetime(2025, 6, 14, 16, 30))  # no timezone: refused before SQL
    result = database.upsert_articles([article(1), no_title, naive, article(4)], run_id=run_id)
    assert (result.stored, result.inserted) == (2, 2)
    assert [url for url, _, _ in result.rejected] == [no_title["url"], naive["url"]]
    assert sorted(row["url"] for row in rows(database, Article)) == sorted([article(1)["url"], article(4)["url"]])
    rejects = rows(database, Reject)
    assert [(r["url"], r["reason"], r["run_id"]) for r in rejects] == [
        (no_title["url"], "db_constraint", run_id), (naive["url"], "db_invalid_value", run_id)]
    assert "title" in rejects[0]["detail"] and "naive datetime" in rejects[1]["detail"]
    assert all("\n" not in r["detail"] for r in rejects)


def test_a_url_twice_in_one_batch_is_stored_once_the_last_version_winning(database):
    result = database.upsert_articles([article(1), article(1, text="后来的版本。")])
    assert result.stored == 1
    [row] = rows(database, Article)
    assert (row["text"], row["revision"]) == ("后来的版本。", 1)


def test_rejects_from_validation_are_written_with_their_run(database):
    run_id = database.start_run(base_url="https://www.cas.cn", sections=["yw"], settings={})
    seen = datetime(2026, 11, 26, tzinfo=timezone.utc)
    database.add_rejects([{"url": "https://www.cas.cn/yw/x.shtml", "reason": "http_404", "detail": "gone",
                           "seen_at": seen}], run_id=run_id)
    assert [(r["url"], r["reason"], r["detail"], r["run_id"], r["seen_at"]) for r in rows(database, Reject)] == [
        ("https://www.cas.cn/yw/x.shtml", "http_404", "gone", run_id, seen)]
    assert database.count_rejects() == 1


def test_a_crawl_run_is_opened_and_closed_with_its_stats(database):
    started = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
    run_id = database.start_run(base_url="http://127.0.0.1:9", sections=["yw", "syky"],
                                settings={"DOWNLOAD_DELAY": 0.0, "CASCRAWL_MAX_PAGES": 2}, started_at=started)
    assert database.get_run(run_id)["status"] == "running"
    database.finish_run(run_id, status="finished", reason="finished",
                        stats={"item_scraped_count": 14, "start_time": "2026-11-26T06:00:00+00:00"},
                        finished_at=started + timedelta(seconds=42))
    run = database.get_run(run_id)
    assert (run["status"], run["reason"], run["sections"], run["base_url"]) == (
        "finished", "finished", ["yw", "syky"], "http://127.0.0.1:9")
    assert run["settings"] == {"DOWNLOAD_DELAY": 0.0, "CASCRAWL_MAX_PAGES": 2}
    assert run["stats"]["item_scraped_count"] == 14
    assert run["finished_at"] - run["started_at"] == timedelta(seconds=42)
    with Session(database.engine) as session:
        assert session.scalar(select(func.count()).select_from(CrawlRun)) == 1


def test_deleting_an_article_deletes_its_archived_versions(database):
    database.upsert_articles([article(1)])
    database.upsert_articles([article(1, text="改过的正文。")])
    assert len(rows(database, ArticleRevision)) == 1
    with Session(database.engine) as session, session.begin():
        session.delete(session.scalars(select(Article)).one())
    assert rows(database, ArticleRevision) == []  # ON DELETE CASCADE (SQLite: foreign_keys pragma on)


# --- PostgreSQL: new articles inserted as one array per column ---

def _varied_articles() -> list[dict]:
    """Values of every kind a column holds: NULLs, empty and nested JSON, quotes, backslashes, braces and
    commas (array syntax), other time zones, long Chinese text."""
    return [
        article(1),
        article(2, author=None, editor=None, source=None, published_at=None, attachments=[], images=[], videos=[],
                provenance={}, script=None, template=None, html=None),
        article(3, title='引号"与\\反斜杠{大括号},逗号', text="第一段。\n\t第二段 NULL {} \"\\", author="NULL",
                attachments=[{"url": "https://www.cas.cn/a.pdf", "name": "附件 {1}, \"引\"", "size": None}],
                videos=[{"url": "https://www.cas.cn/v.mp4", "poster": None, "tracks": [1, 2.5, True]}],
                published_at=datetime(2025, 6, 14, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
                etag='W/"abc"', last_modified="Sat, 14 Jun 2025 08:30:00 GMT"),
        article(4, text="长" * 20000, html="<p>" + "长" * 20000 + "</p>"),  # stored out of line (TOAST)
    ]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_array_insert_stores_what_the_row_by_row_insert_stores(db_url, postgres_server, monkeypatch):  # noqa: F811
    seen_at = datetime(2025, 7, 1, 8, 0, tzinfo=timezone.utc)
    arrays = Database(db_url).open()
    statements: list[str] = []
    from sqlalchemy import event

    event.listen(arrays.engine, "before_cursor_execute", lambda c, cur, s, p, ctx, many: statements.append(s))
    assert arrays.upsert_articles(_varied_articles(), seen_at=seen_at).inserted == 4
    assert any("unnest(" in s for s in statements)  # the array statement was the one used
    other_url = postgres_server.create_database()
    try:
        plain = Database(other_url).open()
        monkeypatch.setattr(articles, "_insert_pg_arrays", lambda session, rows: None)  # SQLAlchemy's VALUES
        assert plain.upsert_articles(_varied_articles(), seen_at=seen_at).inserted == 4
        assert rows(arrays, Article) == rows(plain, Article)
        plain.close()
    finally:
        postgres_server.drop_database(other_url)
    [third] = [row for row in rows(arrays, Article) if row["url"] == article(3)["url"]]
    assert third["published_at"] == datetime(2025, 6, 15, 4, 59, 59, 999999, tzinfo=timezone.utc)
    assert third["attachments"][0]["name"] == "附件 {1}, \"引\"" and third["videos"][0]["tracks"] == [1, 2.5, True]
    arrays.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_refuses_a_too_long_value_rather_than_cutting_it(database):
    run_id = database.start_run(base_url="https://www.cas.cn", sections=["syky"], settings={})
    too_long = article(2, section="s" * 101)  # varchar(100)
    result = database.upsert_articles([article(1), too_long], run_id=run_id)
    assert result.inserted == 1 and [(url, reason) for url, reason, _ in result.rejected] == [
        (too_long["url"], "db_constraint")]
    assert "too long" in result.rejected[0][2]
    assert [row["url"] for row in rows(database, Article)] == [article(1)["url"]]
