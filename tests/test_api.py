"""The read API on real databases (SQLite, PostgreSQL) holding a real crawl of the fixture copy.

Most tests drive the ASGI app in process (FastAPI's TestClient); the judged scenario — a client paging
through a growing database — also runs against a real `cascrawl serve` (test_api_server.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.exc import SQLAlchemyError

from cascrawl.api.app import PAGE_MAX, create_app
from cascrawl.db import Article, Database

from .api_support import crawled_db, made_up_article, postgres_crawled_template, upsert  # noqa: F401
from .conftest import expected_articles, run_cascrawl
from .db_backends import postgres_server  # noqa: F401

ARTICLES = expected_articles()


@pytest.fixture
def client(crawled_db):
    database = Database(crawled_db).open(create=False)
    with TestClient(create_app(database)) as client:
        client.db_url = crawled_db
        yield client
    database.close()


def read_all(client, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get("/articles", params={**params, **({"cursor": cursor} if cursor else {})}).json()
        items.extend(page["items"])
        cursor = page["next"]
        if cursor is None:
            return items


def test_articles_are_the_export_contract_plus_id(client):
    exported = run_cascrawl("export", "--db", client.db_url)
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    items = read_all(client, limit=3)
    assert len(items) == len(records) == len(ARTICLES)
    for item, record in zip(items, records):  # same order too: (updated_at, id)
        assert list(item) == ["id", *record]
        assert {key: value for key, value in item.items() if key != "id"} == record
    assert len({item["id"] for item in items}) == len(items)


def test_paging_returns_every_article_exactly_once_while_articles_are_inserted(client):
    """Between page requests a crawl stores new articles and sees old ones again (unchanged)."""
    seen, cursor, inserted, requests = [], None, 0, 0
    while True:
        response = client.get("/articles", params={"limit": 4, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        requests += 1
        seen.extend(page["items"])
        cursor = page["next"]
        if cursor is None:
            break
        if inserted < 12:  # new articles, and a re-crawl of two already read (only last_seen_at moves)
            first = client.get(f"/articles/{seen[0]['id']}").json()
            again = [made_up_article(100 + n) for n in range(min(inserted, 2))]  # already stored, unchanged
            result = upsert(client.db_url, [made_up_article(inserted + 100), made_up_article(inserted + 101), *again])
            assert (result.inserted, result.unchanged, result.revised) == (2, len(again), 0)
            assert client.get(f"/articles/{seen[0]['id']}").json()["updated_at"] == first["updated_at"]
            inserted += 2
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids)), "an article came twice"
    assert inserted >= 6 and len(ids) == len(ARTICLES) + inserted
    database = Database(client.db_url)
    try:
        assert sorted(ids) == sorted(article.id for article in database.iter_articles())
    finally:
        database.close()
    positions = [(item["updated_at"], item["id"]) for item in seen]
    assert [(_utc(u), i) for u, i in positions] == sorted((_utc(u), i) for u, i in positions)
    assert requests > 3


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def test_an_article_revised_while_paging_comes_again_at_the_end_with_its_new_content(client):
    page = client.get("/articles", params={"limit": 2}).json()
    first = page["items"][0]
    source = next(a for a in ARTICLES if a["url"] == first["url"])
    changed = made_up_article(0, section=first["section"], title=first["title"], text=first["text"] + "\n更正：补充一段。")
    changed.update(url=first["url"], docid=int(first["url"].rsplit("_", 1)[1].split(".")[0]),
                   published_date=datetime.fromisoformat(source["published_date"]).date())
    assert upsert(client.db_url, [changed]).revised == 1
    rest = read_all(client, limit=2, cursor=page["next"])
    again = [item for item in rest if item["id"] == first["id"]]
    assert len(again) == 1 and rest[-1]["id"] == first["id"]
    assert again[0]["content_hash"] == changed["content_hash"] != first["content_hash"]
    detail = client.get(f"/articles/{first['id']}").json()
    assert detail["revision"] == 2 and [r["revision"] for r in detail["revisions"]] == [1]
    assert detail["revisions"][0]["content_hash"] == first["content_hash"]


def test_the_cursor_of_the_last_page_picks_up_later_changes(client):
    everything = client.get("/articles", params={"limit": PAGE_MAX}).json()
    assert everything["next"] is None and not everything["has_more"] and everything["cursor"]
    kept = everything["cursor"]
    assert client.get("/articles", params={"cursor": kept}).json()["items"] == []
    upsert(client.db_url, [made_up_article(1), made_up_article(2)])
    later = client.get("/articles", params={"cursor": kept}).json()
    assert [item["url"] for item in later["items"]] == [
        made_up_article(1)["url"], made_up_article(2)["url"]]
    assert later["cursor"] != kept and later["next"] is None
    empty = client.get("/articles", params={"cursor": later["cursor"]}).json()
    assert empty["items"] == [] and empty["cursor"] == later["cursor"]


def stored_row(db_url: str, url: str) -> dict:
    """The article's row as stored, in the shape the pipelines hand to the store."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    database = Database(db_url)
    try:
        with Session(database.engine) as session:
            found = session.scalars(select(Article).where(Article.url == url)).one()
            return {c.key: getattr(found, c.key) for c in Article.__table__.columns}
    finally:
        database.close()


def test_a_metadata_only_change_reaches_a_client_following_the_cursor_api_and_export(client, tmp_path):
    """Same title and text (same content_hash), another source, editor and images: a downstream service
    reading incrementally, through the API's cursor or `export --since`, gets the article again."""
    everything = client.get("/articles", params={"limit": PAGE_MAX}).json()
    api_cursor = everything["cursor"]
    first_export = run_cascrawl("export", "--db", client.db_url, "--output", str(tmp_path / "all.jsonl"))
    assert first_export.returncode == 0, first_export.stderr
    export_cursor = first_export.stderr.split("--since ")[1].split()[0]
    target = everything["items"][0]
    row = stored_row(client.db_url, target["url"])
    images = [{"url": "https://www.cas.cn/syky/202506/W020250614_new.jpg", "caption": "新图"}]
    result = upsert(client.db_url, [{**row, "source": "新的来源", "editor": "新编辑", "images": images}])
    assert (result.refreshed, result.revised) == (1, 0)

    later = client.get("/articles", params={"cursor": api_cursor}).json()
    assert [item["id"] for item in later["items"]] == [target["id"]]
    seen = later["items"][0]
    assert (seen["source"], seen["editor"], seen["images"]) == ("新的来源", "新编辑", images)
    assert seen["content_hash"] == target["content_hash"] and seen["updated_at"] > target["updated_at"]
    exported = run_cascrawl("export", "--db", client.db_url, "--since", export_cursor)
    assert exported.returncode == 0, exported.stderr
    [line] = exported.stdout.splitlines()
    assert json.loads(line) == {key: value for key, value in seen.items() if key != "id"}

    # A change the contract does not carry (the copy it was fetched from, its HTML) leaves the cursor alone.
    upsert(client.db_url, [{**stored_row(client.db_url, target["url"]), "html": "<p>另一份</p>",
                           "fetched_url": target["url"].replace("https://www.cas.cn", "http://127.0.0.1:1")}])
    assert client.get("/articles", params={"cursor": later["cursor"]}).json()["items"] == []


def test_since_includes_its_instant_and_until_excludes_it(client):
    """`since` and `until` bound updated_at as since <= updated_at < until: an article updated at the
    boundary instant is in `since` and not in `until` (stored at explicit instants: no clock races)."""
    boundary = datetime.now(timezone.utc)  # after the crawl, and not in the future
    database = Database(client.db_url)
    try:
        database.upsert_articles([made_up_article(1)], seen_at=boundary - timedelta(microseconds=1))
        database.upsert_articles([made_up_article(2), made_up_article(3)], seen_at=boundary)
    finally:
        database.close()
    newer = read_all(client, since=boundary.isoformat())
    assert [item["url"] for item in newer] == [made_up_article(2)["url"], made_up_article(3)["url"]]
    older = read_all(client, until=boundary.isoformat())
    assert len(older) == len(ARTICLES) + 1 and all(_utc(item["updated_at"]) < boundary for item in older)
    assert older[-1]["url"] == made_up_article(1)["url"]
    # Naive date-times are Beijing time, as in the export.
    beijing = boundary.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None).isoformat()
    assert [item["url"] for item in read_all(client, since=beijing)] == [item["url"] for item in newer]
    tomorrow = (datetime.now(timezone(timedelta(hours=8))) + timedelta(days=1)).date().isoformat()
    assert read_all(client, since=tomorrow) == []
    assert len(read_all(client, until=tomorrow)) == len(ARTICLES) + 3  # a date: that whole day


def test_section_and_q_filter_like_the_store_does(client):
    syky = read_all(client, section="syky")
    assert sorted(item["url"] for item in syky) == sorted(a["url"] for a in ARTICLES if a["section"] == "syky")
    two = read_all(client, section="syky,cm")
    assert {item["section"] for item in two} == {"syky", "cm"}
    database = Database(client.db_url)
    try:
        for query in ("脑机接口", "科学院", "研究 进展", "院"):
            found = read_all(client, q=query, limit=5)
            assert sorted(item["url"] for item in found) == sorted(hit["url"] for hit in database.search(query, limit=500))
            assert found, query
    finally:
        database.close()
    assert read_all(client, q="没有这个词组合") == []


@pytest.mark.parametrize("params, where, message", [
    ({"limit": "0"}, "limit", "greater than or equal to 1"),
    ({"limit": str(PAGE_MAX + 1)}, "limit", f"less than or equal to {PAGE_MAX}"),
    ({"limit": "ten"}, "limit", "valid integer"),
    ({"since": "yesterday"}, "since", "expected a date like 2025-06-14"),
    ({"until": "2025-13-01"}, "until", "expected a date like 2025-06-14"),
    ({"cursor": "not-a-cursor"}, "cursor", "not a cursor this service handed out"),
    ({"section": "syky;drop"}, "section", "expected section slugs"),
    ({"q": "   "}, "q", "String should match pattern"),
    ({"section": ""}, "section", "expected section slugs"),
    ({"section": "yw, syky"}, "section", "expected section slugs"),
    ({"q": "长" * 201}, "q", "at most 200 characters"),
    ({"sections": "syky"}, "sections", "Extra inputs are not permitted"),
])
def test_bad_parameters_are_422_with_a_clear_message(client, params, where, message):
    response = client.get("/articles", params=params)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", where] and message in error["msg"], error


def test_an_empty_interval_is_an_empty_page_not_an_error(client):
    empty = client.get("/articles", params={"since": "2025-06-02", "until": "2025-06-01"})
    assert empty.status_code == 200 and empty.json()["items"] == [] and empty.json()["next"] is None
    assert client.get("/articles", params={"since": "2025-06-01", "until": "2025-06-01T00:00:00+08:00"}).json()["items"] == []


def test_what_schemathesis_found_is_answered_as_the_schema_says(client):
    """The server errors and refusals schemathesis found (test_api_contract.py), one by one."""
    document = client.get("/openapi.json").json()
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/articles"]["get"]["parameters"]}
    assert parameters["section"]["pattern"].startswith("^(") and "|syky|" in parameters["section"]["pattern"]
    for path in ("/articles/{article_id}", "/runs/{run_id}"):
        [identifier] = document["paths"][path]["get"]["parameters"]
        assert identifier["schema"]["maximum"] == 2**31 - 1
    assert client.get(f"/articles/{2**31 - 1}").status_code == 404  # the largest id an integer column holds
    assert client.get(f"/articles/{2**31}").status_code == 422
    assert client.get(f"/articles/{2**63}").status_code == 422  # was a 500 (SQLite driver) or a 503 (PostgreSQL)
    assert client.get(f"/runs/{2**70}").status_code == 422
    assert client.get(f"/ui/runs/{2**70}").status_code == 422
    everything = len(read_all(client, limit=PAGE_MAX))
    # Dates at the ends of the calendar (a 503 before: out of range once moved to UTC) and RFC 3339's forms.
    assert len(read_all(client, since="0001-01-01", until="9999-12-31")) == everything
    assert len(read_all(client, since="0001-01-01T00:00:00+01:00", until="9999-12-31T23:59:59-01:00")) == everything
    assert len(read_all(client, since="2000-01-01t00:00:00z", until="2999-12-31T23:59:60Z")) == everything
    assert client.get("/articles", params={"q": "研究\x00"}).json()["items"] == []  # a 503 before (FTS5, PostgreSQL)


def test_an_empty_cursor_is_the_beginning(client):
    assert client.get("/articles", params={"cursor": "", "limit": 3}).json() == client.get("/articles", params={"limit": 3}).json()


def test_other_bad_requests(client):
    assert client.get("/articles/abc").status_code == 422
    assert client.get("/articles/0").status_code == 422
    missing = client.get("/articles/99999")
    assert missing.status_code == 404 and missing.json() == {"detail": "no article with id 99999"}
    assert client.get("/runs/99999").status_code == 404
    assert client.get("/runs", params={"limit": "1000"}).status_code == 422


def test_an_article_has_an_etag_that_changes_with_it(client):
    item = client.get("/articles", params={"limit": 1}).json()["items"][0]
    first = client.get(f"/articles/{item['id']}")
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('W/"') and first.json()["id"] == item["id"]
    assert {key: first.json()[key] for key in item} == item  # the detail starts with the list's record
    not_modified = client.get(f"/articles/{item['id']}", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b"" and not_modified.headers["etag"] == etag
    assert client.get(f"/articles/{item['id']}", headers={"If-None-Match": f'"other", {etag.removeprefix("W/")}'}).status_code == 304
    assert client.get(f"/articles/{item['id']}", headers={"If-None-Match": '"other"'}).status_code == 200
    changed = made_up_article(0, title=item["title"] + "（更新）", text=item["text"], section=item["section"])
    changed.update(url=item["url"])
    upsert(client.db_url, [changed])
    after = client.get(f"/articles/{item['id']}", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag and after.json()["revision"] == 2


def test_sections_runs_and_health(client):
    sections = {row["section"]: row for row in client.get("/sections").json()}
    for section in {a["section"] for a in ARTICLES}:
        mine = [a for a in ARTICLES if a["section"] == section]
        assert sections[section]["articles"] == len(mine)
        assert sections[section]["newest_published_date"] == max(a["published_date"] for a in mine)
        assert sections[section]["last_run"]["status"] == "finished"
    runs = client.get("/runs").json()
    assert len(runs) == 1 and runs[0]["status"] == "finished" and runs[0]["problems"] == []
    assert runs[0]["counts"]["articles_stored"] == len(ARTICLES)
    run = client.get(f"/runs/{runs[0]['id']}").json()
    assert run["stats"]["finish_reason"] == "finished" and run["rejects_by_reason"] == {}
    assert run["settings"]["CASCRAWL_SCRIPT"] == "simplified"
    pages = len(ARTICLES)
    assert run["coverage"] == {
        "pages": pages, "title": 1.0, "date": 1.0, "body": 1.0,
        "source": round(sum(1 for a in ARTICLES if a["source"]) / pages, 4),
        "generic_fallback": round(sum(1 for a in ARTICLES if a["template"] == "generic") / pages, 4)}
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["database"] == "reachable"
    assert health["last_run"]["id"] == runs[0]["id"] and health["schema_revision"]
    assert client.head("/healthz").status_code == 200 and client.head("/healthz").content == b""


def test_a_failed_run_says_why(client):
    database = Database(client.db_url)
    try:
        run_id = database.start_run(base_url="https://www.cas.cn", sections=["yw"], settings={})
        database.add_rejects([{"url": "https://www.cas.cn/yw/x.shtml", "reason": "http_404", "detail": "gone",
                               "seen_at": datetime.now(timezone.utc)}], run_id=run_id)
        database.finish_run(run_id, status="failed", reason="database error: disk full",
                            stats={"cascrawl/listing_fetch_failed": 2, "cascrawl/db/articles_lost": 7})
    finally:
        database.close()
    run = client.get(f"/runs/{run_id}").json()
    assert run["problems"] == ["status failed: database error: disk full", "2 listing page(s) could not be fetched",
                               "7 article(s) lost: the database failed"]
    assert run["rejects_by_reason"] == {"http_404": 1} and run["counts"]["rejects"] == 1
    assert client.get("/runs").json()[0]["id"] == run_id
    assert client.get("/healthz").json()["last_run"]["status"] == "failed"


def test_no_route_writes(client):
    app = client.app
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    assert routes and all(route.methods <= {"GET", "HEAD"} for route in routes)
    before = read_all(client, limit=PAGE_MAX)
    paths = {route.path.replace("{article_id}", str(before[0]["id"])).replace("{run_id}", "1") for route in routes}
    for path in sorted(paths | {"/ui/", "/ui/articles", "/nothing-here"}):
        for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            response = client.request(method, path, json={"title": "x"})
            assert response.status_code == 405, (method, path)
            assert response.headers["allow"] == "GET, HEAD" and "read-only" in response.json()["detail"]
    assert read_all(client, limit=PAGE_MAX) == before
    # Below the routes too: the app's own connections refuse to write.
    with pytest.raises(SQLAlchemyError):
        app.state.database.upsert_articles([made_up_article(1)])
    assert read_all(client, limit=PAGE_MAX) == before


def test_the_openapi_document_describes_the_api(client):
    document = client.get("/openapi.json").json()
    assert set(document["paths"]) == {"/articles", "/articles/{article_id}", "/articles/{article_id}/raw", "/sections",
                                      "/runs", "/runs/{run_id}", "/healthz", "/metrics", "/media/{checksum}",
                                      "/feeds/atom", "/feeds/json", "/feeds/{section}/atom", "/feeds/{section}/json"}
    assert all(set(methods) == {"get"} for methods in document["paths"].values())
    article = document["components"]["schemas"]["Article"]["properties"]
    assert list(article) == ["id", "url", "section", "title", "published_date", "published_at", "source", "author",
                             "editor", "text", "attachments", "images", "videos", "media", "content_hash", "first_seen_at",
                             "updated_at"]
    parameters = {p["name"] for p in document["paths"]["/articles"]["get"]["parameters"]}
    assert parameters == {"section", "since", "until", "q", "cursor", "limit"}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_a_database_that_does_not_answer_is_a_503_not_a_crash(tmp_path):
    from .test_cli_errors import _closed_port

    database = Database(f"postgresql://cascrawl@127.0.0.1:{_closed_port()}/cascrawl")
    with TestClient(create_app(database)) as client:
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["database"] == "unreachable"
        articles = client.get("/articles")
        assert articles.status_code == 503 and articles.json()["detail"].startswith("database unavailable")
    database.close()
