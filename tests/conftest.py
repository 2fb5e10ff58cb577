"""Shared test fixtures: the fixture copy of the site served on loopback, and a real crawl of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cascrawl.fixture_site import serve_site

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "fixtures" / "site"
# Loopback copy: no politeness delay, a few requests at once.
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CASCRAWL_RETRY_BACKOFF_BASE=0",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "LOG_LEVEL=INFO"]


@pytest.fixture(scope="session", autouse=True)
def state_home(tmp_path_factory):
    """Crawls into PostgreSQL keep their log files (and spools) in $XDG_STATE_HOME/cascrawl: a folder of the
    test session's, not the home directory. Child processes inherit it."""
    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    if previous is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = previous


def expected_articles(unlisted: bool = False) -> list[dict]:
    """Every hand-written expected article, with `page` = its HTML file: those a crawl of the fixture copy
    stores, and with `unlisted` also the gold pages no listing links (`"listed": false`, fixtures/README.md)."""
    found = []
    for path in sorted(SITE.rglob("*.expected.json")):
        if path.name.startswith("index"):
            continue
        expected = json.loads(path.read_text(encoding="utf-8"))
        if expected.get("listed") is False and not unlisted:
            continue
        expected["page"] = path.with_name(path.name.replace(".expected.json", ".shtml"))
        found.append(expected)
    return found


def expected_listings() -> list[tuple[Path, dict]]:
    return [
        (path.with_name(path.name.replace(".expected.json", ".shtml")), json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(SITE.rglob("index*.expected.json"))
    ]


def run_cascrawl(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """The real `cascrawl` command in a child process (a fresh Twisted reactor each time)."""
    return subprocess.run(
        [sys.executable, "-m", "cascrawl", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def site_url():
    with serve_site(SITE) as url:
        yield url


@pytest.fixture(scope="session")
def crawled(site_url, tmp_path_factory):
    """One real crawl of the whole fixture copy (all sections) into a fresh SQLite file."""
    database = tmp_path_factory.mktemp("crawl") / "cascrawl.db"
    db_url = f"sqlite:///{database}"
    sections = ",".join(sorted({e["section"] for e in expected_articles()}))
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", sections, *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    return db_url, result
