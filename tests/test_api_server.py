"""`cascrawl serve` as a real uvicorn server on 127.0.0.1, read by a downstream client written against
docs/api.md (plain urllib), while another process-level writer stores articles between its requests."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from .api_support import (  # noqa: F401
    crawled_db, made_up_article, postgres_crawled_template, serve, upsert,
)
from .conftest import expected_articles, run_cascrawl
from .db_backends import postgres_server  # noqa: F401

ARTICLES = expected_articles()


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Client:
    """What docs/api.md tells a downstream service to do: follow `next` until null, keep `cursor`."""

    def __init__(self, base: str):
        self.base = base
        self.cursor = None  # kept between runs of the client

    def read_new(self, limit: int, between_pages=lambda: None) -> list[dict]:
        items, cursor = [], self.cursor
        while True:
            query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            status, _, body = get(f"{self.base}/articles?{urllib.parse.urlencode(query)}")
            assert status == 200, body
            page = json.loads(body)
            items.extend(page["items"])
            if page["cursor"]:
                self.cursor = page["cursor"]
            cursor = page["next"]
            if cursor is None:
                return items
            between_pages()


def test_a_client_paging_through_a_growing_database_gets_every_article_once(crawled_db, serve):
    server = serve(crawled_db)
    client = Client(server.base)
    added = []

    def a_crawl_stores_more():
        batch = [made_up_article(len(added) + n) for n in range(3)]
        upsert(crawled_db, batch)
        added.extend(batch)

    first = client.read_new(limit=5, between_pages=a_crawl_stores_more)
    urls = [item["url"] for item in first]
    assert len(urls) == len(set(urls)), "an article came twice"
    assert sorted(urls) == sorted([a["url"] for a in ARTICLES] + [a["url"] for a in added])
    assert len(added) >= 6
    # Later: only what arrived since, from the kept cursor.
    upsert(crawled_db, [made_up_article(500), made_up_article(501)])
    assert [item["url"] for item in client.read_new(limit=5)] == [made_up_article(500)["url"],
                                                                  made_up_article(501)["url"]]
    assert client.read_new(limit=5) == []


def test_the_server_speaks_http_as_documented(crawled_db, serve):
    server = serve(crawled_db)
    status, headers, body = get(f"{server.base}/articles?limit=2")
    assert status == 200 and headers["content-type"] == "application/json"
    page = json.loads(body)
    assert headers["link"] == f'<{server.base}/articles?limit=2&cursor={page["next"]}>; rel="next"'
    text = body.decode("utf-8")  # real Chinese characters, not \u escapes
    assert page["items"][0]["title"] in text and "\\u" not in text
    item_id = page["items"][0]["id"]
    status, headers, _ = get(f"{server.base}/articles/{item_id}")
    status_304, _, empty = get(f"{server.base}/articles/{item_id}", {"If-None-Match": headers["etag"]})
    assert (status, status_304, empty) == (200, 304, b"")
    status, _, body = get(f"{server.base}/articles?since=tomorrow")
    assert status == 422 and "since" in json.loads(body)["detail"][0]["msg"]
    request = urllib.request.Request(f"{server.base}/articles", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405
    status, _, body = get(f"{server.base}/docs")
    assert status == 200 and b"swagger" in body.lower()
    status, _, body = get(f"{server.base}/openapi.json")
    assert status == 200 and "/articles" in json.loads(body)["paths"]
    status, _, body = get(f"{server.base}/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    output = server.stop()
    assert "Uvicorn running on" in output or "Application startup complete" in output
    assert "GET /articles?limit=2" in output  # the access log


def test_serve_refuses_a_database_it_cannot_read(tmp_path):
    result = run_cascrawl("serve", "--port", "0", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert result.returncode == 1 and "no database file" in result.stderr
    result = run_cascrawl("serve", "--port", "70000", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert result.returncode == 2 and "--port" in result.stderr


def test_healthz_and_cascrawl_health_turn_unhealthy_on_a_missed_day_and_on_a_degraded_run(request, tmp_path, serve):
    """A healthy daily schedule, then a missed day: /healthz 503 `stale` with since when, `cascrawl health`
    exit 1; a longer --max-age forgives it. Then a degraded run: unhealthy with its problems named."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from cascrawl.db import Database
    from cascrawl.db.models import CrawlRun

    from .api_support import crawled_database

    db_url = crawled_database("sqlite", request, tmp_path)
    server = serve(db_url)
    status, _, body = get(f"{server.base}/healthz")
    health = json.loads(body)
    assert (status, health["verdict"], health["reason"]) == (200, "healthy", "ok")
    assert health["age_seconds"] < 3600 and health["run_id"] == health["last_run"]["id"]
    result = run_cascrawl("health", "--db", db_url)
    assert result.returncode == 0 and result.stdout.startswith("healthy: run ")

    ended = datetime.now(timezone.utc) - timedelta(hours=30)
    database = Database(db_url)
    try:
        with database.engine.begin() as connection:
            connection.execute(update(CrawlRun).values(started_at=ended - timedelta(minutes=3), finished_at=ended))
    finally:
        database.close()
    status, _, body = get(f"{server.base}/healthz")
    health = json.loads(body)
    assert (status, health["status"], health["verdict"], health["reason"]) == (503, "error", "unhealthy", "stale")
    assert health["database"] == "reachable" and health["last_run"]["status"] == "finished"
    since = datetime.fromisoformat(health["stale_since"])
    assert abs((since - (ended + timedelta(hours=26))).total_seconds()) < 1
    assert 30 * 3600 <= health["age_seconds"] < 30 * 3600 + 60
    result = run_cascrawl("health", "--db", db_url, "--json")
    assert result.returncode == 1 and json.loads(result.stdout)["reason"] == "stale"
    assert run_cascrawl("health", "--db", db_url, "--max-age", "2d").returncode == 0
    assert run_cascrawl("health", "--db", db_url, "--max-age", "soon").returncode == 2

    database = Database(db_url)
    try:
        run_id = database.start_run(base_url="https://www.cas.cn", sections=["yw", "kj"], settings={})
        problems = [{"code": "section_missing", "names": ["yw", "kj"], "text": "sections yw, kj answered 404"}]
        database.finish_run(run_id, status="degraded", reason="finished",
                            stats={"cascrawl/verdict/problems": problems})
        database.start_run(base_url="https://www.cas.cn", sections=["yw"], settings={})  # running: skipped
    finally:
        database.close()
    status, _, body = get(f"{server.base}/healthz")
    health = json.loads(body)
    assert (status, health["reason"], health["run_id"], health["problems"]) == (503, "degraded", run_id, problems)
    assert health["last_run"]["status"] == "running" and "yw, kj" in health["detail"]
    result = run_cascrawl("health", "--db", db_url)
    assert result.returncode == 1 and "sections yw, kj answered 404" in result.stdout
