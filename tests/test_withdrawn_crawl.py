"""Withdrawn articles through real crawls (the `cascrawl` command) of the fixture copy served on loopback: an
article stored, then its page answering 503 (transient: nothing happens), 404 once (not yet), 404 again
(withdrawn: gone from the listings, a tombstone to the change cursor of the API and the export), then 200
again (restored). The rules one by one, on the db layer: tests/test_withdrawn.py."""

from __future__ import annotations

import json
import shutil

from fastapi.testclient import TestClient

from cascrawl.api.app import create_app
from cascrawl.db import Database, reads
from tests.support.fixture_site import serve_site

from .conftest import FAST, SITE, run_cascrawl

SECTION = "cm"
PATH = "/cm/202503/t20250311_5052789.shtml"
URL = f"https://www.cas.cn{PATH}"


def _answer(status: int):
    def answer(handler) -> None:
        body = f"<html><body><h1>{status}</h1></body></html>".encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return answer


def _crawl(base: str, db_url: str, *extra: str) -> dict:
    """One run; its stats."""
    result = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", SECTION, *FAST, *extra)
    assert result.returncode in (0, 2), result.stderr[-3000:]  # 2: degraded (a page that failed), still written
    database = Database(db_url)
    try:
        return reads.get_run(database)["stats"]
    finally:
        database.close()


def test_an_article_gone_twice_is_withdrawn_reaches_readers_as_a_tombstone_and_comes_back(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    db_url = f"sqlite:///{tmp_path / 'withdrawn.db'}"
    refresh = ("--refresh-days", "36500")  # every stored article of the section is revalidated
    routes: dict = {}
    with serve_site(site, routes=routes) as base:
        _crawl(base, db_url)
        database = Database(db_url).open(create=False)
        with TestClient(create_app(database)) as client:
            first = client.get("/articles", params={"limit": 200}).json()
            assert URL in [item["url"] for item in first["items"]]
            listed = len(first["items"])

            routes[PATH] = _answer(503)  # transient: says nothing about the page
            stats = _crawl(base, db_url, *refresh)
            assert stats["cascrawl/article_fetch_failed"] == 1  # asked, after retries
            assert "cascrawl/db/articles_gone_once" not in stats and "cascrawl/db/articles_withdrawn" not in stats

            routes[PATH] = _answer(404)  # gone once: not yet
            stats = _crawl(base, db_url, *refresh)
            assert stats["cascrawl/db/articles_gone_once"] == 1 and "cascrawl/db/articles_withdrawn" not in stats
            assert client.get("/articles", params={"cursor": first["cursor"]}).json()["items"] == []

            routes[PATH] = _answer(410)  # gone again, seen by a --full run: withdrawn
            stats = _crawl(base, db_url, "--full")
            assert stats["cascrawl/db/articles_withdrawn"] == 1

            now = client.get("/articles", params={"limit": 200}).json()["items"]
            assert len(now) == listed - 1 and URL not in [item["url"] for item in now]
            (section,) = client.get("/sections").json()
            assert section["articles"] == listed - 1
            assert all(item["url"] != URL for item in client.get("/articles", params={"q": "耐盐碱"}).json()["items"])
            changes = client.get("/articles", params={"cursor": first["cursor"]}).json()
            tombstones = [item for item in changes["items"] if item.get("withdrawn")]
            assert [(item["url"], sorted(item)) for item in tombstones] == [
                (URL, ["id", "updated_at", "url", "withdrawn", "withdrawn_at"])]
            detail = client.get(f"/articles/{tombstones[0]['id']}").json()
            assert detail["withdrawn_at"] == tombstones[0]["withdrawn_at"] and "耐盐碱" in detail["text"]
            exported = run_cascrawl("export", "--db", db_url, "--since", first["cursor"])
            assert exported.returncode == 0, exported.stderr
            records = [json.loads(line) for line in exported.stdout.splitlines()]
            assert [record for record in records if record.get("withdrawn")] == [
                {key: tombstones[0][key] for key in ("url", "withdrawn", "withdrawn_at", "updated_at")}]
            whole = run_cascrawl("export", "--db", db_url)
            assert URL not in whole.stdout and len(whole.stdout.splitlines()) == listed - 1

            del routes[PATH]  # back with 200: restored, and the cursor moves again
            stats = _crawl(base, db_url, *refresh)
            assert stats["cascrawl/db/articles_restored"] == 1
            (back,) = [item for item in client.get("/articles", params={"cursor": changes["cursor"]}).json()["items"]
                       if item["url"] == URL]
            assert "withdrawn" not in back and "耐盐碱" in back["text"]
            assert len(client.get("/articles", params={"limit": 200}).json()["items"]) == listed
            assert client.get(f"/articles/{back['id']}").json()["withdrawn_at"] is None
        database.close()
