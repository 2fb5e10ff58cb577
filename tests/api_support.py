"""Helpers of the API, CLI-inspection and browser tests: crawled databases on both backends, articles
made up for inserting while a client reads, and a real `cascrawl serve` in a child process.

A crawled database is the fixture copy of the site really crawled by `cascrawl crawl` (SQLite: a copy
of the session's crawl; PostgreSQL: one crawl per session into a template database, then a fresh
`CREATE DATABASE … TEMPLATE` per test).
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from cascrawl.db import Database

from .conftest import FAST, REPO, copy_sqlite, expected_articles, run_cascrawl
from .db_backends import PostgresServer

BACKENDS = ["sqlite", "postgresql"]


def made_up_article(number: int, section: str = "syky", title: str | None = None, text: str | None = None) -> dict:
    """An article row as the pipelines hand it to the store, docid 9_000_000 + number."""
    docid = 9_000_000 + number
    title = title or f"测试文章{number}：新的研究进展"
    text = text or f"第{number}篇测试文章的正文。\n第二段。"
    url = f"https://www.cas.cn/{section}/202601/t20260101_{docid}.shtml"
    return {
        "url": url, "fetched_url": url, "docid": docid, "section": section, "title": title,
        "published_date": datetime(2026, 1, 1).date(), "published_at": None, "source": "测试", "author": None,
        "editor": None, "text": text, "html": "<html></html>", "attachments": [], "images": [],
        "content_hash": hashlib.sha256(f"{title}\n{text}".encode()).hexdigest(), "script": "simplified",
        "template": "current", "provenance": {"title": "test"},
    }


def upsert(db_url: str, rows: list[dict]):
    """Store through the real db layer (a crawl's own upsert), as a separate writer would."""
    database = Database(db_url)
    try:
        return database.upsert_articles(rows, seen_at=datetime.now(timezone.utc))
    finally:
        database.close()


class _Template:
    def __init__(self, server: PostgresServer, site_url: str):
        self.server = server
        self.url = server.create_database()
        sections = ",".join(sorted({e["section"] for e in expected_articles()}))
        result = run_cascrawl("crawl", "--base-url", site_url, "--db", self.url, "--section", sections, *FAST)
        assert result.returncode == 0, result.stderr[-3000:]
        self.copies = 0

    def copy(self) -> str:
        self.copies += 1
        name = f"{make_url(self.url).database}_copy{self.copies}"
        with self.server.engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(self.url).database}"')
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_crawled_template(request, site_url):
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template = _Template(server, site_url)
    yield template
    server.drop_database(template.url)


def crawled_database(backend: str, request, tmp_path) -> str:
    """A database of `backend` holding the crawl of the fixture copy, for this test alone."""
    if backend == "sqlite":
        source, _ = request.getfixturevalue("crawled")
        archive = Path(source.removeprefix("sqlite:///")).parent / "warc"  # its WARC archive, next to it
        if archive.is_dir():
            shutil.copytree(archive, tmp_path / "warc", dirs_exist_ok=True)
        return copy_sqlite(source, tmp_path / "crawled.db")
    template: _Template = request.getfixturevalue("postgres_crawled_template")
    url = template.copy()
    request.addfinalizer(lambda: template.server.drop_database(url))
    return url


@pytest.fixture(params=BACKENDS)
def crawled_db(request, tmp_path) -> str:
    return crawled_database(request.param, request, tmp_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`cascrawl serve` in a child process on a free loopback port."""

    def __init__(self, db_url: str, *extra: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.output = None
        self.log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # a pipe could fill up and block it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cascrawl", "serve", "--port", str(self.port), "--db", db_url, *extra],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"cascrawl serve exited {self.process.returncode}: {self.stop()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:  # 503: serving, and saying the crawls are not healthy
                if error.code == 503:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("cascrawl serve did not answer /healthz within 30 s")
            time.sleep(0.1)

    def stop(self) -> str:
        """Stop it as Ctrl-C would; its output."""
        if self.output is not None:
            return self.output
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: uvicorn shuts down gracefully
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.seek(0)
        self.output = self.log.read()
        self.log.close()
        return self.output


@pytest.fixture
def serve():
    """serve(db_url, *options) -> a running Server, stopped after the test."""
    servers: list[Server] = []

    def start(db_url: str, *extra: str) -> Server:
        servers.append(Server(db_url, *extra))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
