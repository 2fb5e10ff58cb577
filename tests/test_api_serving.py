"""Serving that scales: gzip, ETags from what an answer carries (kept across a re-crawl), /runs paged by a
cursor, unknown sections refused, the headers and statuses in the OpenAPI document, `cascrawl serve --workers`.

The rules of cascrawl/api/answers.py are unit-tested; the rest runs on real databases holding a real crawl of
the fixture copy (in process through TestClient, or a real `cascrawl serve`), and the ETag rule across a second
real crawl.
"""

from __future__ import annotations

import gzip
import json
import re
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from cascrawl.api import answers
from cascrawl.api.app import create_app
from cascrawl.db import Database, reads
from cascrawl.sections import SECTIONS

from .api_support import crawled_db, made_up_article, postgres_crawled_template, serve, upsert  # noqa: F401
from .conftest import FAST, copy_sqlite, expected_articles, run_cascrawl
from .db_backends import postgres_server  # noqa: F401

ARTICLES = expected_articles()


# --- the rules of answers.py ---

def request_with(**headers: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                    "headers": [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]})


def test_if_none_match_uses_the_weak_comparison():
    etag = 'W/"abc"'
    assert answers.etag_matches('W/"abc"', etag) and answers.etag_matches('"abc"', etag)
    assert answers.etag_matches('"x", W/"abc"', etag) and answers.etag_matches("*", etag)
    assert not answers.etag_matches('"abcd"', etag) and not answers.etag_matches(None, etag)
    assert not answers.etag_matches("", etag)


def test_gzip_is_sent_only_to_a_client_that_takes_it():
    assert answers.accepts_gzip(request_with(accept_encoding="gzip, deflate, br"))
    assert answers.accepts_gzip(request_with(accept_encoding="br;q=1.0, gzip;q=0.5"))
    assert not answers.accepts_gzip(request_with(accept_encoding="gzip;q=0"))
    assert not answers.accepts_gzip(request_with(accept_encoding="identity"))
    assert not answers.accepts_gzip(request_with(accept_encoding="gzipped"))
    assert not answers.accepts_gzip(request_with())


def test_the_etag_leaves_out_what_moves_at_every_crawl():
    body = {"id": 1, "title": "标题", "last_seen_at": "2026-01-01T08:00:00+08:00"}
    later = {**body, "last_seen_at": "2026-01-02T08:00:00+08:00"}
    assert answers.etag_of(body, ["last_seen_at"]) == answers.etag_of(later, ["last_seen_at"])
    assert answers.etag_of(body) != answers.etag_of(later)
    assert answers.etag_of({**body, "title": "新标题"}, ["last_seen_at"]) != answers.etag_of(body, ["last_seen_at"])
    assert answers.etag_of(body).startswith('W/"')


def test_compressed_copies_are_kept_within_their_bound():
    copies = answers.CompressedCopies(limit=3000)
    bodies = {f"k{n}": json.dumps([f"第{n}篇{m}" for m in range(400)], ensure_ascii=False).encode() for n in range(8)}
    for key, content in bodies.items():
        assert gzip.decompress(copies.compressed(key, content)) == content
        assert copies.size <= 3000
    assert gzip.decompress(copies.compressed("k7", b"not compressed again")) == bodies["k7"]  # kept: the same copy
    assert copies.get("k0") is None  # dropped, the least recently used


# --- answers kept while the database is unchanged ---

def test_the_change_counter_moves_at_a_commit_and_only_then(crawled_db):
    reader = Database(crawled_db, read_only=True)
    try:
        counter = reads.ChangeCounter(reader)
        if not counter.enabled:  # PostgreSQL: no cheap sign, nothing is kept
            assert counter.current() is None
            return
        first = counter.current()
        assert [counter.current() for _ in range(20)] == [first] * 20
        upsert(crawled_db, [made_up_article(1)])
        moved = counter.current()
        assert moved > first and counter.current() == moved
    finally:
        reader.close()


def test_a_kept_answer_is_not_served_after_the_database_changed(client):
    first = client.get("/articles", params={"limit": 200}).json()
    assert client.get("/articles", params={"limit": 200}).json() == first
    detail = client.get(f"/articles/{first['items'][0]['id']}")
    upsert(client.db_url, [made_up_article(7)])
    after = client.get("/articles", params={"limit": 200}).json()
    assert len(after["items"]) == len(first["items"]) + 1 and after["items"][-1]["url"] == made_up_article(7)["url"]
    changed = made_up_article(8, title="改过的标题", section=first["items"][0]["section"])
    changed.update(url=first["items"][0]["url"])
    upsert(client.db_url, [changed])
    again = client.get(f"/articles/{first['items'][0]['id']}", headers={"If-None-Match": detail.headers["etag"]})
    assert again.status_code == 200 and again.json()["title"] == "改过的标题"


# --- on a crawled database ---

@pytest.fixture
def client(crawled_db):
    database = Database(crawled_db).open(create=False)
    with TestClient(create_app(database)) as client:
        client.db_url = crawled_db
        yield client
    database.close()


def test_large_answers_are_gzipped_for_clients_that_ask(client):
    plain = client.get("/articles", params={"limit": 200}, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    zipped = client.get("/articles", params={"limit": 200}, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["vary"]
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.json() == plain.json() and len(plain.json()["items"]) == len(ARTICLES)
    assert zipped.headers["etag"] == plain.headers["etag"]  # weak: the same content in either coding
    page = client.get("/ui/", headers={"Accept-Encoding": "gzip"})  # the operator page: the middleware's gzip
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    small = client.get("/articles", params={"limit": 1, "section": "nothing-here,yw", "q": "没有这样的文章"},
                       headers={"Accept-Encoding": "gzip"})
    assert small.status_code == 422 and "content-encoding" not in small.headers  # below the minimum size


def test_a_listing_page_has_an_etag_and_answers_304(client):
    first = client.get("/articles", params={"limit": 5})
    etag = first.headers["etag"]
    again = client.get("/articles", params={"limit": 5}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/articles", params={"limit": 6}, headers={"If-None-Match": etag}).status_code == 200


def test_an_unknown_section_is_refused_with_the_known_ones(client):
    refused = client.get("/articles", params={"section": "yw,nosuch"})
    assert refused.status_code == 422
    message = refused.json()["detail"][0]["msg"]
    assert "unknown nosuch" in message
    stored = sorted({article["section"] for article in ARTICLES})
    for slug in set(SECTIONS) | set(stored):
        assert re.search(rf"(: |, ){re.escape(slug)}(,|$)", message), slug
    beyond = [slug for slug in stored if slug not in SECTIONS]  # stored, not in the catalogue: known too
    for slug in beyond:
        assert client.get("/articles", params={"section": slug}).status_code == 200
    pattern = {p["name"]: p["schema"] for p in
               client.get("/openapi.json").json()["paths"]["/articles"]["get"]["parameters"]}["section"]["pattern"]
    assert all(re.fullmatch(pattern, slug) for slug in [*SECTIONS, *stored, "yw,cm"])
    assert not re.fullmatch(pattern, "nosuch") and not re.fullmatch(pattern, "yw,")


def test_runs_are_paged_by_a_cursor_in_the_link_header(client):
    database = Database(client.db_url)
    started = datetime(2026, 3, 1, tzinfo=timezone.utc)
    try:
        for n in range(6):  # two runs start at the same moment: the id orders them
            moment = started + timedelta(hours=n - (n == 5))
            run_id = database.start_run(base_url="http://example.test", sections=["yw"], settings={}, started_at=moment)
            database.finish_run(run_id, status="finished", reason=None, stats={}, finished_at=moment + timedelta(minutes=5))
    finally:
        database.close()
    everything = client.get("/runs", params={"limit": 200}).json()
    assert len(everything) == 7 and "link" not in client.get("/runs", params={"limit": 200}).headers
    seen, url = [], "/runs?limit=2"
    while url:
        response = client.get(url)
        assert response.status_code == 200 and len(response.json()) <= 2
        seen.extend(response.json())
        link = response.headers.get("link")
        url = re.fullmatch(r'<http://testserver(/runs\?[^>]+)>; rel="next"', link).group(1) if link else None
    assert [run["id"] for run in seen] == [run["id"] for run in everything]
    assert client.get("/runs", params={"cursor": "nonsense"}).status_code == 422


def test_the_openapi_document_names_the_headers_and_every_status(client):
    paths = client.get("/openapi.json").json()["paths"]
    listing = paths["/articles"]["get"]["responses"]
    assert {"ETag", "Link"} <= set(listing["200"]["headers"]) and "ETag" in listing["304"]["headers"]
    detail = paths["/articles/{article_id}"]["get"]["responses"]
    assert "ETag" in detail["200"]["headers"] and {"304", "404", "422"} <= set(detail)
    assert "Link" in paths["/runs"]["get"]["responses"]["200"]["headers"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert {"405", "503"} <= set(operation["responses"]), (method, path)
    assert client.post("/articles").status_code == 405


# --- a second real crawl ---

def test_an_etag_stays_when_a_full_re_crawl_changes_nothing(crawled, site_url, tmp_path):
    """Two real crawls of the unchanged fixture copy: every article's last_seen_at moves, no ETag does."""
    db_url = copy_sqlite(crawled[0], tmp_path / "twice.db")

    def read(db_url: str) -> tuple[dict, str, dict]:
        database = Database(db_url).open(create=False)
        try:
            with TestClient(create_app(database)) as client:
                page = client.get("/articles", params={"limit": 200})
                ids = [item["id"] for item in page.json()["items"]]
                details = {i: client.get(f"/articles/{i}") for i in ids}
                return ({i: (r.headers["etag"], r.json()["last_seen_at"]) for i, r in details.items()},
                        page.headers["etag"], {i: r.json() for i, r in details.items()})
        finally:
            database.close()

    before, listing_before, _ = read(db_url)
    sections = ",".join(sorted({article["section"] for article in ARTICLES}))
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", sections, "--full", *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    after, listing_after, bodies = read(db_url)
    assert len(after) == len(before) == len(ARTICLES)
    for article_id, (etag, seen) in after.items():
        assert seen > before[article_id][1], "the second crawl did not see the article again"
        assert etag == before[article_id][0], bodies[article_id]["url"]
    assert listing_after == listing_before


# --- worker processes ---

def test_serve_with_two_workers_answers_from_both(crawled_db, serve):
    server = serve(crawled_db, "--workers", "2")
    answers_seen = []
    for _ in range(30):
        with urllib.request.urlopen(f"{server.base}/articles?limit=3", timeout=30) as response:
            answers_seen.append(json.loads(response.read()))
    assert all(page == answers_seen[0] for page in answers_seen) and len(answers_seen[0]["items"]) == 3
    output = server.stop()
    workers = set(re.findall(r"Started server process \[(\d+)\]", output))
    assert len(workers) == 2, output[-3000:]
    assert "2 worker processes" in output and "Traceback" not in output, output[-3000:]
    assert output.count("GET /articles?limit=3") == 30  # the access log of every worker


def test_workers_need_a_port_and_a_count_of_one_or_more(tmp_path):
    database = f"sqlite:///{tmp_path / 'none.db'}"
    for options, expected in ((["--workers", "0"], "--workers"), (["--workers", "2", "--port", "0"], "--port")):
        result = run_cascrawl("serve", "--db", database, *options)
        assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr
