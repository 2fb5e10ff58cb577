"""Hostile pages and hosts, with real servers: the fixture copy on 127.0.0.1 whose 要闻 listing also links
hostile pages, and two foreign hosts (127.0.0.2, and another port of 127.0.0.1) that must receive no
request at all. One real crawl (the `cascrawl` command in a child process) over all of it."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.fixture_site import serve_site
from tests.support.procmem import PeakMemory

from .conftest import FAST, REPO, SITE, expected_articles, once_per_session

SECTIONS = ("yw", "cm")
MONTH = "202601"
CROSS_LISTED = "https://www.cas.cn/syky/202506/t20250614_5073157.shtml"  # listed in yw too


def _article(docid: int) -> str:
    return f"/yw/{MONTH}/t20260105_{docid}.shtml"


(REDIRECT_OFF, REFRESH_OFF, BOMB, LOOP, BINARY, TRICKLE, SAME_SITE, SAME_SITE_TARGET, LINKED_OFF, BIG, BIG_STREAM,
 TAG_FLOOD) = (_article(5100000 + n) for n in range(1, 13))
GZIP_BOMB_INFLATED = 2 * 1024 ** 3  # 2 GiB of zeros, about 2 MB on the wire
BIG_PAGE = b"<html><body>" + b"<p>x</p>" * (11 * 1024 ** 2 // 8) + b"</body></html>"  # 11 MiB, no compression
# 4.8 MB, under the size limit, but 1.2 million elements: parsed, it took the crawl to 500 MB
TAG_FLOOD_PAGE = (b"<html><head><title>t</title></head><body><div class='trs_editor_view'>" + b"<p>x</p>" * 600_000
                  + b"</div></body></html>")


class _Recorder(BaseHTTPRequestHandler):
    """A foreign host: answers everything with a page worth following, and records every request."""

    requests: list  # set per server

    def do_GET(self):
        self.requests.append((self.command, self.headers.get("Host"), self.path))
        body = "<html><head><title>外站</title></head><body><h1>外站</h1></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_POST = do_GET

    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def foreign_host(address: str):
    """A recording server on `address`; yields (base URL, the list of requests it received)."""
    requests: list = []
    handler = type("Recorder", (_Recorder,), {"requests": requests})
    server = ThreadingHTTPServer((address, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def _gzip_bomb(inflated: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    block = bytes(1 << 20)
    chunks = [compressor.compress(block) for _ in range(inflated >> 20)]
    return b"".join([*chunks, compressor.flush()])


def _answer(handler, status: int, headers: dict, body: bytes = b"") -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _routes(foreign: str, same_host_foreign: str, bomb: bytes, article_page: bytes) -> dict:
    html = {"Content-Type": "text/html; charset=utf-8"}

    def redirect_off(h):
        _answer(h, 302, {"Location": f"{foreign}{REDIRECT_OFF}"})

    def refresh_off(h):
        page = (f'<html><head><meta http-equiv="refresh" content="0;url={same_host_foreign}/steal">'
                "<title>跳转</title></head><body>跳转中</body></html>")
        _answer(h, 200, html, page.encode())

    def gzip_bomb(h):
        _answer(h, 200, {**html, "Content-Encoding": "gzip"}, bomb)

    def loop(h):  # a new URL each time, never an end: ?n=1, ?n=2, …
        n = int(h.path.partition("?n=")[2] or 0)
        _answer(h, 302, {"Location": f"{LOOP}?n={n + 1}"})

    def binary(h):
        _answer(h, 200, {"Content-Type": "application/octet-stream"}, bytes(range(256)) * 64)

    def trickle(h):  # promises a page, then sends one byte a second
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(120):
                h.wfile.write(b"<")
                h.wfile.flush()
                time.sleep(1)

    def big(h):  # announces its size
        _answer(h, 200, html, BIG_PAGE)

    def big_stream(h):  # no Content-Length: the size shows only while it arrives
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Connection", "close")
        h.end_headers()
        with contextlib.suppress(OSError):
            for start in range(0, len(BIG_PAGE), 1 << 16):
                h.wfile.write(BIG_PAGE[start:start + (1 << 16)])

    def tag_flood(h):
        _answer(h, 200, html, TAG_FLOOD_PAGE)

    def same_site(h):
        _answer(h, 301, {"Location": SAME_SITE_TARGET})

    def same_site_target(h):
        _answer(h, 200, html, article_page)

    return {REDIRECT_OFF: redirect_off, REFRESH_OFF: refresh_off, BOMB: gzip_bomb, LOOP: loop, BINARY: binary,
            TRICKLE: trickle, SAME_SITE: same_site, SAME_SITE_TARGET: same_site_target, BIG: big, BIG_STREAM: big_stream,
            TAG_FLOOD: tag_flood}


def _run_measured(args: list[str], output, timeout: float) -> tuple[int, str, str, int]:
    """Run `cascrawl` in a child process; (exit code, stdout, stderr, the peak RSS in kB of the child and of its
    extraction worker, added up).

    The peak is read from /proc (tests.support.procmem), not from wait4's ru_maxrss, which in a long pytest
    session reported the size of pytest itself (460 MB), not the crawl's."""
    out, err = output / "stdout.txt", output / "stderr.txt"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        child = subprocess.Popen([sys.executable, "-m", "cascrawl", *args], cwd=REPO, env=os.environ.copy(),
                                 stdout=stdout, stderr=stderr, text=True)
    deadline = time.monotonic() + timeout
    memory = PeakMemory(child.pid)  # the crawl and its extraction worker (which parses the pages)
    while child.poll() is None:
        memory.sample()
        if time.monotonic() > deadline:
            child.kill()
            child.wait()
            pytest.fail(f"the crawl did not end on its own within {timeout} s")
        time.sleep(0.05)
    assert memory.own_kb, "no memory reading of the crawl process"
    return child.returncode, out.read_text(), err.read_text(), memory.kb


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory):
    """One crawl of sections yw and cm of the fixture copy, whose yw listing also links the hostile pages (one
    for the whole session, however many pytest-xdist workers run these tests)."""
    return once_per_session(tmp_path_factory, "hostile", _crawl_the_hostile_copy)


def _crawl_the_hostile_copy(tmp: Path) -> dict:
    site = tmp / "site"
    shutil.copytree(SITE, site)
    bomb = _gzip_bomb(GZIP_BOMB_INFLATED)
    article_page = (SITE / "yw" / "202506" / "t20250610_5072001.shtml").read_bytes()
    with foreign_host("127.0.0.2") as (foreign, foreign_requests), \
            foreign_host("127.0.0.1") as (same_host_foreign, same_host_requests):
        listing = site / "yw" / "index.shtml"
        hostile = [REDIRECT_OFF, REFRESH_OFF, BOMB, LOOP, BINARY, TRICKLE, SAME_SITE, BIG, BIG_STREAM, TAG_FLOOD]
        entries = "".join(f'<li><span>2026-01-05</span><a href=".{path[3:]}" title="页{n}">页{n}</a></li>'
                          for n, path in enumerate(hostile))
        entries += f'<li><span>2026-01-05</span><a href="{foreign}{LINKED_OFF}" title="外链">外链</a></li>'
        html = listing.read_text("utf-8").replace('<div id="content">', '<div id="content">' + entries, 1)
        listing.write_text(html, "utf-8")
        database = tmp / "hostile.db"
        routes = _routes(foreign, same_host_foreign, bomb, article_page)
        with serve_site(site, routes=routes) as url:
            code, stdout, stderr, peak_kb = _run_measured(
                ["crawl", "--base-url", url, "--db", f"sqlite:///{database}", "--section", ",".join(SECTIONS),
                 *FAST, "-s", "DOWNLOAD_TIMEOUT=3"], tmp, timeout=120)
        return {"url": url, "code": code, "stdout": stdout, "stderr": stderr, "peak_kb": peak_kb,
                "database": str(database), "foreign": foreign, "same_host_foreign": same_host_foreign,
                "foreign_requests": [list(request) for request in foreign_requests],
                "same_host_requests": [list(request) for request in same_host_requests]}


def _query(database, sql: str) -> list[tuple]:
    connection = sqlite3.connect(database)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_the_run_ends_on_its_own_and_stores_the_rest_of_the_site(hostile_crawl):
    assert hostile_crawl["code"] == 0, hostile_crawl["stderr"][-3000:]
    stored = {url for (url,) in _query(hostile_crawl["database"], "SELECT url FROM articles")}
    expected = {a["url"] for a in expected_articles() if a["section"] in SECTIONS} | {CROSS_LISTED}
    # the same-site redirect is followed: its target is an article like any other
    assert stored == expected | {f"https://www.cas.cn{SAME_SITE_TARGET}"}
    assert _query(hostile_crawl["database"], "PRAGMA integrity_check") == [("ok",)]


def test_no_foreign_host_receives_any_request(hostile_crawl):
    assert hostile_crawl["foreign_requests"] == []  # 127.0.0.2: neither robots.txt nor the target page
    assert hostile_crawl["same_host_requests"] == []  # another port of the base URL's own address


def test_each_hostile_page_is_a_recorded_reject_with_its_reason(hostile_crawl):
    url = hostile_crawl["url"]
    rejects = dict(_query(hostile_crawl["database"], "SELECT url, reason FROM rejects"))
    assert rejects == {
        f"{url}{REDIRECT_OFF}": "offsite_redirect",
        f"{url}{REFRESH_OFF}": "offsite_refresh",
        f"{url}{BOMB}": "too_large",
        f"{url}{LOOP}": "fetch_failed",
        f"{url}{BINARY}": "not_html",
        f"{url}{TRICKLE}": "fetch_failed",
        f"{url}{BIG}": "too_large",
        f"{url}{BIG_STREAM}": "too_large",
        f"{url}{TAG_FLOOD}": "too_large",
    }
    details = dict(_query(hostile_crawl["database"], "SELECT reason, detail FROM rejects"))
    assert f"{hostile_crawl['foreign']}{REDIRECT_OFF}" in details["offsite_redirect"]
    assert f"{hostile_crawl['same_host_foreign']}/steal" in details["offsite_refresh"]
    assert "max redirections" in details["fetch_failed"] or "took longer than" in details["fetch_failed"]


def test_off_site_targets_are_counted_and_logged_once_per_host(hostile_crawl):
    stderr = hostile_crawl["stderr"]
    for target in (hostile_crawl["foreign"], hostile_crawl["same_host_foreign"]):
        host = target.removeprefix("http://")
        assert sum(f"off the site to {host}" in line for line in stderr.splitlines()) == 1, host
    assert "9 rejected (fetch_failed: 2, not_html: 1, offsite_redirect: 1, offsite_refresh: 1, too_large: 4)" in (
        hostile_crawl["stdout"])


def test_a_gzip_bomb_and_a_flood_of_tags_cost_no_more_memory_than_a_normal_run(hostile_crawl):
    # Scrapy's default DOWNLOAD_MAXSIZE (1 GiB) let this bomb take the process past 1.2 GB; the tag flood,
    # parsed, to 500 MB.
    assert hostile_crawl["peak_kb"] < 300 * 1024, f"peak RSS {hostile_crawl['peak_kb'] // 1024} MB"
