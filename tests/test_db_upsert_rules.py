"""The rules of docs/schema.md ("What a crawl does to a row") on the paths the plain tests do not reach:
the HTTP validators alone changing, and the insert that finds the URL already stored by another writer
between its SELECT and its INSERT (two crawls, or two batches, inserting the same new URL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from cascrawl.db import Article, ArticleRevision, Database

from .db_backends import db_url, postgres_server  # noqa: F401  (fixtures)
from .test_db_store import article, rows

T1 = datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc)
T2 = T1 + timedelta(days=1)


@pytest.fixture
def database(db_url):  # noqa: F811
    opened = Database(db_url).open()
    yield opened
    opened.close()


def the_row(database: Database) -> dict:
    [row] = rows(database, Article)
    return row


# --- HTTP validators: kept current, never a revision ---

@pytest.mark.parametrize("validator, first, second", [
    ("etag", '"5073101-a"', '"5073101-b"'),
    ("last_modified", "Sat, 14 Jun 2025 08:30:00 GMT", "Sun, 15 Jun 2025 09:00:00 GMT"),
])
def test_a_new_validator_with_the_same_content_is_stored_without_a_revision(database, validator, first, second):
    database.upsert_articles([article(1, **{validator: first})], seen_at=T1)
    result = database.upsert_articles([article(1, **{validator: second})], seen_at=T2)
    assert (result.refreshed, result.unchanged, result.revised) == (1, 0, 0)
    row = the_row(database)
    assert row[validator] == second  # else every --refresh-days run sends the stale one and refetches in full
    assert (row["revision"], row["updated_at"], row["last_seen_at"]) == (1, T1, T2)
    assert rows(database, ArticleRevision) == []


def test_validators_are_not_archived_with_a_revision(database):
    database.upsert_articles([article(1, etag='"a"')], seen_at=T1)
    database.upsert_articles([article(1, etag='"b"', text="改过的正文。")], seen_at=T2)
    assert the_row(database)["etag"] == '"b"'
    [archived] = rows(database, ArticleRevision)
    assert "etag" not in archived and archived["revision"] == 1


# --- the insert that meets a row another writer stored meanwhile ---

def insert_behind_our_back(database: Database, other: dict, at: datetime) -> list[str]:
    """Arrange for `other` to be stored by a second connection just before `database`'s next INSERT INTO
    articles runs (after its SELECT found nothing): the race of two writers, made deterministic."""
    fired: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not fired and statement.lstrip().upper().startswith("INSERT INTO ARTICLES "):
            fired.append(statement)
            writer = Database(database.url)
            try:
                assert writer.upsert_articles([other], seen_at=at).inserted == 1
            finally:
                writer.close()

    event.listen(database.engine, "before_cursor_execute", before)
    return fired


def test_a_raced_insert_with_other_content_archives_the_first_version_and_bumps_the_revision(database):
    first = article(1)
    ours = article(1, text=first["text"] + "\n更正：第二个版本。")
    fired = insert_behind_our_back(database, first, T1)
    result = database.upsert_articles([ours, article(2)], seen_at=T2)
    assert fired, "the competing insert never ran: the test did not exercise the conflict path"
    assert (result.inserted, result.revised, result.refreshed, result.unchanged) == (1, 1, 0, 0)
    row = {r["url"]: r for r in rows(database, Article)}[first["url"]]
    assert (row["revision"], row["text"], row["content_hash"]) == (2, ours["text"], ours["content_hash"])
    assert (row["first_seen_at"], row["updated_at"], row["last_seen_at"]) == (T1, T2, T2)
    [archived] = rows(database, ArticleRevision)
    assert (archived["article_id"], archived["revision"], archived["text"]) == (row["id"], 1, first["text"])
    assert (archived["updated_at"], archived["replaced_at"]) == (T1, T2)


def test_a_raced_insert_with_the_same_content_keeps_revision_and_updated_at(database):
    fired = insert_behind_our_back(database, article(1, etag='"old"'), T1)
    result = database.upsert_articles([article(1, etag='"new"')], seen_at=T2)
    assert fired
    assert (result.inserted, result.revised, result.refreshed) == (0, 0, 1)
    row = the_row(database)
    assert (row["revision"], row["updated_at"], row["last_seen_at"], row["etag"]) == (1, T1, T2, '"new"')
    assert rows(database, ArticleRevision) == []


def test_a_raced_insert_of_an_identical_article_only_moves_last_seen_at(database):
    fired = insert_behind_our_back(database, article(1), T1)
    result = database.upsert_articles([article(1)], seen_at=T2)
    assert fired
    assert (result.inserted, result.unchanged, result.stored) == (0, 1, 1)
    row = the_row(database)
    assert (row["revision"], row["first_seen_at"], row["updated_at"], row["last_seen_at"]) == (1, T1, T1, T2)
    assert rows(database, ArticleRevision) == []
