"""One run at a time, every run recorded with its health, and layout changes raising an alarm."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cascrawl.db import CrawlRun, Database, RunLock, RunLocked
from tests.support.fixture_site import serve_site
from cascrawl.health import assess

from .conftest import FAST, SITE, run_cascrawl
from .db_backends import BACKENDS, fresh_database, postgres_server  # noqa: F401  (fixture)

THRESHOLDS = {"min_coverage": {"title": 0.95, "body": 0.95}, "min_pages": 3, "max_generic_share": 0.5,
              "section_min_entries": 5}


def _runs(db_url):
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            return session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
    finally:
        engine.dispose()


# --- the checks themselves ---

def test_a_healthy_run_has_no_problems():
    stats = {"cascrawl/coverage/pages": 10, "cascrawl/coverage/title": 10, "cascrawl/coverage/body": 10,
             "cascrawl/section/yw/entries": 15}
    assert assess(stats, ["yw"], [{"cascrawl/section/yw/entries": 15}], **THRESHOLDS) == []


def test_missing_bodies_generic_pages_and_an_empty_section_are_problems():
    stats = {"cascrawl/coverage/pages": 10, "cascrawl/coverage/title": 10, "cascrawl/coverage/body": 4,
             "cascrawl/extract/generic_fallback": 6, "cascrawl/section/yw/entries": 10}
    problems = assess(stats, ["yw", "cm"], [{"cascrawl/section/cm/entries": 12}], **THRESHOLDS)
    assert [p.split(" ")[0] for p in problems] == ["body", "6", "section"]
    assert "section cm listed no articles, where an earlier run found 12" in problems[2]


def test_too_few_pages_are_not_judged_and_a_section_never_seen_is_not_an_alarm():
    stats = {"cascrawl/coverage/pages": 2, "cascrawl/coverage/title": 0}
    assert assess(stats, ["kj"], [], **THRESHOLDS) == []


HEALTHY = {"cascrawl/coverage/pages": 20, "cascrawl/coverage/title": 20, "cascrawl/coverage/body": 20}


@pytest.mark.parametrize("changes, previous, alarms", [
    ({"cascrawl/coverage/pages": 3, "cascrawl/coverage/title": 0, "cascrawl/coverage/body": 3}, [], ["title"]),
    ({"cascrawl/coverage/title": 19}, [], []),  # 95%: not below the floor
    ({"cascrawl/coverage/title": 18}, [], ["title"]),  # 90%
    ({"cascrawl/extract/generic_fallback": 10}, [], []),  # exactly half: not more than half
    ({"cascrawl/extract/generic_fallback": 11}, [], ["11"]),
    ({}, [{"cascrawl/section/yw/entries": 5}], ["section"]),  # 5 or more listed before
    ({}, [{"cascrawl/section/yw/entries": 4}], []),
])
def test_each_alarm_at_its_documented_threshold(changes, previous, alarms):
    """README, Scheduled runs: coverage below the floor judged from CASCRAWL_ALARM_MIN_PAGES (3) pages on,
    more than half generic, a section empty where an earlier run listed 5 or more."""
    problems = assess({**HEALTHY, **changes}, ["yw"], previous, **THRESHOLDS)
    assert [problem.split(" ")[0] for problem in problems] == alarms


# --- one run at a time ---

@contextlib.contextmanager
def counting_site():
    """A site on loopback that records every path asked for (and answers 404)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Counting(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_run_against_the_same_database_exits_at_once(backend, request, tmp_path, site_url):
    db_url = fresh_database(backend, request, tmp_path)
    database = Database(db_url).open()
    lock = RunLock(database).acquire()
    try:
        with pytest.raises(RunLocked):
            RunLock(Database(db_url)).acquire()
        with counting_site() as (base, hits):
            refused = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "cm", *FAST)
        assert refused.returncode == 1
        assert "cascrawl: error: another cascrawl run is crawling into" in refused.stderr
        assert re.search(r"cascrawl: error: another cascrawl run .*\(log: .+\.log\)$", refused.stderr.rstrip())
        assert hits == []  # not even robots.txt: refused before the engine started
        assert [run.status for run in _runs(db_url)] == []  # and no run recorded
    finally:
        lock.release()
        database.close()
    allowed = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "cm", *FAST)
    assert allowed.returncode == 0, allowed.stderr[-2000:]


def test_the_lock_of_a_crashed_run_is_released(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'crash.db'}"
    Database(db_url).open().close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom cascrawl.db import Database, RunLock\n"
         f"lock = RunLock(Database({db_url!r})).acquire(); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=r"pid \d+"):
            RunLock(Database(db_url)).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        RunLock(Database(db_url)).acquire().release()
    finally:
        holder.kill()


# --- every run recorded; a changed template is a degraded run ---

@pytest.mark.parametrize("record_order", [None, "0", "1000"])
def test_a_changed_article_template_makes_a_degraded_run_that_says_why(tmp_path, record_order):
    """Whatever the run record's place among the extensions (its end is one handler, its steps in order), the
    health check comes before the verdict and the run's row."""
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    for page in site.rglob("t*.shtml"):  # the redesign: the body containers get new names
        html = page.read_bytes().decode("utf-8", errors="surrogateescape")
        html = re.sub(r"trs_editor_view|TRS_Editor|xl_content", "article-body", html)
        page.write_bytes(html.encode("utf-8", errors="surrogateescape"))
    db_url = f"sqlite:///{tmp_path / 'degraded.db'}"
    with serve_site(site) as base:
        order = () if record_order is None else ("-s", f'EXTENSIONS={{"cascrawl.run.record.RunRecord": {record_order}}}')
        result = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky,cm,yw", *FAST, *order)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "degraded (layout alarm)" in result.stdout
    assert re.search(r"alarm: \d+ of \d+ article pages matched no CAS layout", result.stdout)
    [run] = _runs(db_url)
    assert run.status == "degraded" and run.stats["cascrawl/health/problems"]


def test_a_section_whose_listing_stops_listing_is_an_alarm_in_the_next_run(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    db_url = f"sqlite:///{tmp_path / 'sections.db'}"
    with serve_site(site) as base:
        first = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky,cm", *FAST)
        assert first.returncode == 0, first.stderr[-2000:]
        for listing in (site / "syky").glob("index*.shtml"):  # the listing redesign: entries are no longer list items
            listing.write_text(listing.read_text("utf-8").replace("<li", "<div").replace("</li>", "</div>"), "utf-8")
        second = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky,cm", *FAST)
    assert second.returncode == 2
    assert "alarm: section syky listed no articles, where an earlier run found" in second.stdout
    assert [run.status for run in _runs(db_url)] == ["finished", "degraded"]


def test_the_summary_fits_one_screen_and_counts_what_happened(site_url, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'summary.db'}"
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "cm", *FAST)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) <= 12 and lines[0].startswith("crawl run 1: ok")
    assert re.search(r"requests: \d+ \(robots.txt 1, listing pages 1, articles \d+\); responses 200: \d+", result.stdout)
    assert "coverage: title 100%, date 100%, body 100%" in result.stdout


def test_retries_back_off_exponentially(tmp_path):
    """A listing page that answers 503 three times: the retries wait base, 2 x base, 4 x base seconds
    (bounded on both sides: time is the point here; the exact delays are tests/test_retry_backoff.py)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[float] = []

    class Flaky(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/cm/"):
                hits.append(time.monotonic())
            status = 503 if self.path.startswith("/cm/") and len(hits) <= 3 else 404
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_cascrawl("crawl", "--base-url", f"http://127.0.0.1:{server.server_address[1]}",
                              "--db", f"sqlite:///{tmp_path / 'flaky.db'}", "--section", "cm",
                              *FAST, "-s", "CASCRAWL_RETRY_BACKOFF_BASE=0.3", "-s", "RETRY_TIMES=3")
    finally:
        server.shutdown()
    # the section answers 404 once the retries are over: missing, which degrades the run
    assert result.returncode == 2, result.stderr[-2000:]
    assert "1 section(s) answered 404 or 410: cm" in result.stdout
    assert len(hits) == 4
    waits = [later - earlier for earlier, later in zip(hits, hits[1:])]
    for wait, expected in zip(waits, [0.3, 0.6, 1.2]):  # exponential: linear would give 0.9 for the third
        assert expected <= wait < expected + 1.5, waits
