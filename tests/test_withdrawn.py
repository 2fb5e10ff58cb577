"""Withdrawn articles on real SQLite and PostgreSQL databases: two gone answers in a row withdraw, a transient failure
between them starts the count again, a 200 restores; what the readers (the change cursor, the default
listings, search, sections, the export and the API) make of a withdrawn article. The same through real
crawls of the fixture copy: tests/test_withdrawn_crawl.py."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from cascrawl.api.app import create_app
from cascrawl.db import Database, frontier, reads
from cascrawl.db.articles import withdraw_gone
from cascrawl.export import TOMBSTONE_KEYS, write_csv, write_jsonl

from .db_backends import db_url, postgres_server  # noqa: F401  (fixtures)
from .test_db_store import article

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture()
def database(db_url):  # noqa: F811
    db = Database(db_url).open()
    db.upsert_articles([article(1), article(2), article(3)], seen_at=T0)
    yield db
    db.close()


def check(database: Database, url: str, reason: str, now: datetime):
    """One revalidation of `url` answered with `reason`, written as a crawl's batch writes it: the gone
    pages withdrawn first, then the re-fetch schedule (cascrawl/run/writes.py)."""
    rejects = [{"url": url, "fetched_url": url, "section": "syky", "reason": reason}]
    gone = withdraw_gone(database, rejects, now=now)
    frontier.schedule_refetches(database, rejects, max_days=30, now=now)
    return gone


def store(database: Database, row: dict, at: datetime):
    """An article stored as a crawl's batch stores it: upserted, then off the re-fetch schedule."""
    result = database.upsert_articles([row], seen_at=at)
    frontier.clear_refetches(database, [row["url"]])
    return result


def stored(database: Database, n: int):
    return reads.get_article(database, url=article(n)["url"])


def test_one_gone_answer_is_not_enough_two_in_a_row_withdraw(database):
    url = article(2)["url"]
    first = check(database, url, "http_404", T0 + timedelta(hours=1))
    assert (first.first_gone, first.withdrawn) == ([url], [])
    assert stored(database, 2).withdrawn_at is None and stored(database, 2).updated_at == T0
    second = check(database, url, "http_410", T0 + timedelta(days=1))
    assert (second.first_gone, second.withdrawn) == ([], [url])
    withdrawn = stored(database, 2)
    assert withdrawn.withdrawn_at == withdrawn.updated_at == T0 + timedelta(days=1)
    assert withdrawn.text == article(2)["text"]  # kept, with its text
    assert withdrawn.etag is None and withdrawn.last_modified is None  # the next check asks for the whole page
    # Gone again: already withdrawn, left as it is.
    assert check(database, url, "http_404", T0 + timedelta(days=2)).withdrawn == []
    assert stored(database, 2).withdrawn_at == T0 + timedelta(days=1)


@pytest.mark.parametrize("transient", ["http_503", "http_500", "fetch_failed", "http_429"])
def test_a_transient_failure_never_withdraws_and_starts_the_count_again(database, transient):
    url = article(1)["url"]
    for hours, reason in enumerate([transient, transient, "http_404", transient, "http_404", transient], start=1):
        assert check(database, url, reason, T0 + timedelta(hours=hours)).withdrawn == []
    assert stored(database, 1).withdrawn_at is None
    assert check(database, url, "http_404", T0 + timedelta(hours=8)).withdrawn == []
    assert check(database, url, "http_404", T0 + timedelta(hours=9)).withdrawn == [url]


def test_pages_never_stored_are_not_withdrawn(database):
    unknown = article(9)["url"]
    for hours in (1, 2):
        gone = check(database, unknown, "http_404", T0 + timedelta(hours=hours))
        assert (gone.first_gone, gone.withdrawn) == ([], [])


def _withdraw(database: Database, n: int, at: datetime) -> None:
    url = article(n)["url"]
    check(database, url, "http_404", at - timedelta(hours=1))
    assert check(database, url, "http_404", at).withdrawn == [url]


def test_a_page_back_with_200_restores_the_article_and_moves_the_cursor(database):
    _withdraw(database, 2, T0 + timedelta(days=1))
    back = T0 + timedelta(days=2)
    result = store(database, article(2), back)  # the same content as before
    assert (result.restored, result.refreshed, result.revised) == (1, 1, 0)
    restored = stored(database, 2)
    assert restored.withdrawn_at is None and restored.updated_at == back and restored.revision == 1
    # Withdrawn again, then back with new text: a revision, restored too.
    _withdraw(database, 2, T0 + timedelta(days=3))
    edited = article(2, text="改过的正文。")
    result = store(database, edited, T0 + timedelta(days=4))
    assert (result.restored, result.revised) == (1, 1)
    assert stored(database, 2).withdrawn_at is None and stored(database, 2).revision == 2


def test_the_default_listings_leave_a_withdrawn_article_out_and_the_change_cursor_returns_it(database):
    before = reads.list_articles(database).cursor  # a reader has read everything
    _withdraw(database, 2, T0 + timedelta(days=1))
    listed = [a.url for a in reads.list_articles(database).articles]
    assert listed == [article(1)["url"], article(3)["url"]]
    assert reads.count_articles(database) == 2
    assert [a.url for a in reads.list_articles(database, reads.ArticleFilter(q="脑机接口")).articles] == listed
    assert database.search("脑机接口") and article(2)["url"] not in [hit["url"] for hit in database.search("脑机接口")]
    assert [(s.section, s.articles) for s in reads.section_stats(database)] == [("syky", 2)]
    assert sum(count for *_, count in reads.articles_per_month(database)) == 2
    changes = reads.list_articles(database, reads.ArticleFilter(tombstones=True), after=before)
    assert [(a.url, reads.is_withdrawn(a)) for a in changes.articles] == [(article(2)["url"], True)]
    assert reads.get_article(database, url=article(2)["url"]) is not None  # still there to read


def test_the_export_writes_a_tombstone_in_place_of_a_withdrawn_article(database):
    before = reads.list_articles(database).cursor
    _withdraw(database, 2, T0 + timedelta(days=1))
    changed = list(reads.iter_articles(database, after=before, filters=reads.ArticleFilter(tombstones=True)))
    lines = io.StringIO()
    assert write_jsonl(changed, lines) == 1
    (tombstone,) = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert tuple(tombstone) == TOMBSTONE_KEYS
    assert tombstone == {"url": article(2)["url"], "withdrawn": True, "withdrawn_at": "2026-12-02T16:00:00+08:00",
                         "updated_at": "2026-12-02T16:00:00+08:00"}
    table = io.StringIO()
    write_csv(changed, table)
    header, row = [line.split(",") for line in table.getvalue().splitlines()]
    assert header[-1] == "withdrawn_at"
    assert dict(zip(header, row)) == {**dict.fromkeys(header, ""), "url": article(2)["url"],
                                           "updated_at": "2026-12-02T16:00:00+08:00",
                                           "withdrawn_at": "2026-12-02T16:00:00+08:00"}
    # A whole export holds only the articles there are.
    assert [a.url for a in reads.iter_articles(database)] == [article(1)["url"], article(3)["url"]]


def test_the_api_lists_without_it_and_follows_changes_to_its_tombstone(database):
    with TestClient(create_app(database)) as client:
        first = client.get("/articles").json()
        assert len(first["items"]) == 3
        _withdraw(database, 2, T0 + timedelta(days=1))
        assert [item["url"] for item in client.get("/articles").json()["items"]] == [article(1)["url"],
                                                                                     article(3)["url"]]
        changes = client.get("/articles", params={"cursor": first["cursor"]}).json()
        (tombstone,) = changes["items"]
        assert tombstone == {"id": stored(database, 2).id, "url": article(2)["url"], "withdrawn": True,
                             "withdrawn_at": "2026-12-02T16:00:00+08:00", "updated_at": "2026-12-02T16:00:00+08:00"}
        since = client.get("/articles", params={"since": "2026-12-02"}).json()["items"]
        assert [item.get("withdrawn") for item in since] == [True]
        assert [s["articles"] for s in client.get("/sections").json()] == [2]
        detail = client.get(f"/articles/{tombstone['id']}").json()
        assert detail["withdrawn_at"] == "2026-12-02T16:00:00+08:00" and detail["text"] == article(2)["text"]
        assert 'id="withdrawn"' in client.get(f"/ui/articles/{tombstone['id']}").text  # the operator page says so
        assert article(2)["title"] not in client.get("/ui/articles").text
        # Back with 200: the cursor moves again and the article is listed as before.
        store(database, article(2), T0 + timedelta(days=2))
        (back,) = client.get("/articles", params={"cursor": changes["cursor"]}).json()["items"]
        assert back["url"] == article(2)["url"] and "withdrawn" not in back and back["text"] == article(2)["text"]
        assert len(client.get("/articles").json()["items"]) == 3
        assert client.get(f"/articles/{tombstone['id']}").json()["withdrawn_at"] is None
        assert 'id="withdrawn"' not in client.get(f"/ui/articles/{tombstone['id']}").text


def test_metrics_count_the_articles_a_reader_can_list(database):
    _withdraw(database, 2, T0 + timedelta(days=1))
    with TestClient(create_app(database)) as client:
        lines = client.get("/metrics").text.splitlines()
    assert 'cascrawl_articles{section="syky"} 2.0' in lines  # 3 stored, 1 withdrawn
