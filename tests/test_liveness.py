"""Liveness: a running crawl's heartbeat, and every reader telling a dead run from a live one at once.

A crawl of a loopback copy really running (slow article pages) reads `running` with counts so far and a
heartbeat that moves; the same crawl SIGKILLed reads `interrupted` through `cascrawl runs`, `runs show`
and the API's /runs, with no new crawl in between. Then the rule itself on stored rows (stale heartbeat,
lock free) and the lock probe, on SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from threading import Timer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import SQLAlchemyError
from cascrawl import stats_keys
from cascrawl.api.app import create_app
from cascrawl.db import Database, RunLock, reads, runs
from cascrawl.db.lock import run_lock_held
from cascrawl.run.heartbeat import live_counts
from tests.support.fixture_site import build_large_section

from .conftest import FAST, REPO, run_cascrawl
from .db_backends import db_url, postgres_server  # noqa: F401
from .loopback import CountingSite

SECTION = "syky"
BEAT = 0.5  # CASCRAWL_HEARTBEAT_SECONDS of the crawls here: stale after 1.5 s


def _cli_json(*args: str):
    done = run_cascrawl(*args, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _api_runs(db_url: str) -> list[dict]:
    database = Database(db_url, read_only=True).open(create=False)
    try:
        with TestClient(create_app(database)) as client:
            answer = client.get("/runs")
            assert answer.status_code == 200, answer.text
            return answer.json()
    finally:
        database.close()


def _row(db_url: str) -> dict | None:
    """The newest run with a heartbeat, as the readers see it (None: none yet, or no schema yet)."""
    database = Database(db_url)
    try:
        found = [run for run in reads.list_runs(database) if run["heartbeat_at"] is not None]
        return found[0] if found else None
    except SQLAlchemyError:  # the crawl has not made its tables yet
        return None
    finally:
        database.close()


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


@pytest.fixture()
def slow_site(tmp_path):
    root = tmp_path / "site"
    build_large_section(root, SECTION, count=300, per_page=20)
    with CountingSite(root, article_delay=0.1) as site:
        yield site


def test_a_running_crawl_reads_running_with_live_counts_and_a_killed_one_interrupted_at_once(slow_site, db_url):
    process = subprocess.Popen(
        [sys.executable, "-m", "cascrawl", "crawl", "--base-url", slow_site.url, "--db", db_url, "--section", SECTION,
         *FAST, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "-s", "CASCRAWL_DB_BATCH_SIZE=5",
         "-s", f"CASCRAWL_HEARTBEAT_SECONDS={BEAT}", "-s", "LOG_LEVEL=WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 90
        while True:  # until a beat carries stored articles
            assert process.poll() is None, process.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no heartbeat with stored articles"
            row = _row(db_url)
            if row and (row["live"] or {}).get(stats_keys.ARTICLES_UPSERTED):
                break
            time.sleep(0.1)

        # Running: every reader says so, with the counts so far, and the heartbeat moves on.
        listed = _cli_json("runs", "--db", db_url)
        assert [run["status"] for run in listed] == ["running"]
        assert listed[0]["counts"]["articles_stored"] > 0 and listed[0]["counts"]["listing_pages"] > 0
        shown = _cli_json("runs", "show", "latest", "--db", db_url)
        assert shown["status"] == "running" and shown["finished_at"] is None
        first_beat = _moment(shown["heartbeat_at"])
        assert shown["live"]["interval"] == BEAT
        served = _api_runs(db_url)
        assert served[0]["status"] == "running" and served[0]["counts"]["articles_stored"] > 0
        time.sleep(3 * BEAT)
        again = _cli_json("runs", "show", "latest", "--db", db_url)
        assert again["status"] == "running" and _moment(again["heartbeat_at"]) > first_beat
        assert again["counts"]["articles_stored"] >= shown["counts"]["articles_stored"]
        assert process.poll() is None, "the crawl ended before it was killed: make the site slower"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    last = _row(db_url)
    stale_at = last["heartbeat_at"] + timedelta(seconds=runs.STALE_BEATS * BEAT)
    time.sleep(max(0.0, (stale_at - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    # Killed: no new crawl, yet every reader says interrupted, with the counts of its last heartbeat.
    listed = _cli_json("runs", "--db", db_url)
    assert [run["status"] for run in listed] == ["interrupted"]
    assert listed[0]["counts"]["articles_stored"] == last["live"][stats_keys.ARTICLES_UPSERTED]
    assert any(problem.startswith("status interrupted") for problem in listed[0]["problems"])
    shown = _cli_json("runs", "show", "latest", "--db", db_url)
    assert shown["status"] == "interrupted" and "killed" in shown["reason"]
    human = run_cascrawl("runs", "show", "latest", "--db", db_url)
    assert human.returncode == 0 and human.stdout.startswith(f"run {shown['id']}: interrupted")
    assert [run["status"] for run in _api_runs(db_url)] == ["interrupted"]
    # Only read so: the row stays as the dead process left it, for the next run to close.
    database = Database(db_url)
    try:
        assert runs.get_run(database, shown["id"])["status"] == "running"
    finally:
        database.close()


def test_a_crawl_with_the_heartbeat_off_writes_none(tmp_path):
    root = tmp_path / "site"
    build_large_section(root, SECTION, count=10, per_page=10)
    db_url = f"sqlite:///{tmp_path / 'off.db'}"
    with CountingSite(root) as site:
        done = run_cascrawl("crawl", "--base-url", site.url, "--db", db_url, "--section", SECTION, *FAST,
                            "-s", "CASCRAWL_HEARTBEAT_SECONDS=0")
    assert done.returncode == 0, done.stderr[-2000:]
    database = Database(db_url)
    try:
        [run] = reads.list_runs(database)
    finally:
        database.close()
    assert run["status"] == "finished" and run["heartbeat_at"] is None and run["live"] is None


# --- the rule, on stored rows ---

def _running_row(database: Database, heartbeat_age: float | None, started_age: float = 3600,
                 interval: float = 5.0) -> int:
    now = datetime.now(timezone.utc)
    run_id = database.start_run(base_url="http://x", sections=[SECTION], settings={},
                                started_at=now - timedelta(seconds=started_age))
    if heartbeat_age is not None:
        assert runs.beat(database, run_id, {stats_keys.ARTICLES_UPSERTED: 7, "interval": interval},
                         at=now - timedelta(seconds=heartbeat_age))
    return run_id


def _statuses(database: Database) -> dict[int, str]:
    return {run["id"]: run["status"] for run in reads.list_runs(database)}


def test_a_stale_running_run_reads_interrupted_only_while_its_lock_is_free(db_url):
    database = Database(db_url).open()
    try:
        stale = _running_row(database, heartbeat_age=60)
        fresh = _running_row(database, heartbeat_age=1)
        silent_young = _running_row(database, heartbeat_age=None, started_age=5)
        silent_old = _running_row(database, heartbeat_age=None, started_age=3600)
        slow_beat = _running_row(database, heartbeat_age=60, interval=30)  # 60 s < 3 × 30 s: not stale
        statuses = _statuses(database)
        assert statuses == {stale: "interrupted", fresh: "running", silent_young: "running",
                            silent_old: "interrupted", slow_beat: "running"}
        assert reads.get_run(database, stale)["status"] == "interrupted"
        assert reads.get_run(database, stale)["stats"] == {stats_keys.ARTICLES_UPSERTED: 7}
        assert reads.get_run(database)["id"] == silent_young  # the newest (started last)
        database.finish_run(silent_young, status="finished", reason="finished", stats={})
        last_runs = {section.last_run["id"]: section.last_run["status"] for section in reads.section_stats(database)}
        assert last_runs == {silent_young: "finished"}
        database.finish_run(silent_young, status="running", reason=None, stats=None)  # running again, young
        with RunLock(database):  # a crawl holds the lock: it may be slow, it is not dead
            assert run_lock_held(database)
            assert set(_statuses(database).values()) == {"running"}
        assert not run_lock_held(database)
        assert _statuses(database)[stale] == "interrupted"

        database.finish_run(stale, status="finished", reason="finished", stats={"x": 1})
        assert runs.beat(database, stale, {"interval": 5.0}) is False  # a late beat leaves a closed run alone
        assert reads.get_run(database, stale)["status"] == "finished"
    finally:
        database.close()


def test_the_lock_probe_leaves_a_starting_run_its_lock(tmp_path):
    """A reader probing the SQLite lock file holds it for an instant; a run starting then still gets it."""
    db_url = f"sqlite:///{tmp_path / 'probe.db'}"
    database = Database(db_url).open()
    lock_file = tmp_path / "probe.db.lock"
    try:
        assert not run_lock_held(database) and not lock_file.exists()  # nothing made by asking
        with RunLock(database):
            assert run_lock_held(database)
        with open(lock_file, "rb") as probe:  # a probe caught in the act: held while the run starts
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            started = time.monotonic()
            Timer(0.05, fcntl.flock, (probe, fcntl.LOCK_UN)).start()
            with RunLock(database):
                assert time.monotonic() - started >= 0.05
    finally:
        database.close()


def test_a_beat_carries_the_counts_the_readers_show_and_its_interval():
    stats = {stats_keys.ARTICLES_UPSERTED: 12, stats_keys.LISTING_PAGES: 2, stats_keys.rejected("http_404"): 3,
             "start_time": datetime.now(timezone.utc), "cascrawl/walks/incomplete": ["syky"]}
    assert live_counts(stats, 5.0) == {stats_keys.ARTICLES_UPSERTED: 12, stats_keys.LISTING_PAGES: 2,
                                       stats_keys.rejected("http_404"): 3, "interval": 5.0}
