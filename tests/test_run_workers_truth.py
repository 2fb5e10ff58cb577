"""A distributed run read as it is now (cascrawl/db/reads.py, cascrawl/db/runs.py): each worker's heartbeat
and counts so far, a silent worker read as dead (`interrupted`) in `runs show` and /runs/{id}, the run's
live counts summed over its workers; and the shared verdict counting every worker. Rows written through
the db layer (the reads are the same on either backend); the crawl of real workers is in test_distributed.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient

from cascrawl import stats_keys
from cascrawl.api.app import create_app
from cascrawl.db import Database, reads, runs
from cascrawl.run.verdict import shared_run_problems, shared_run_verdict

from .conftest import run_cascrawl

BEAT = 30.0  # long: the run stays alive (beating) however slow the machine is


def _distributed_run(db_url: str, silent_for: float) -> int:
    """A running distributed run: w1 beat just now, w2 `silent_for` seconds ago; both stored articles."""
    database = Database(db_url).open()
    try:
        run_id = database.start_run(base_url="http://127.0.0.1:1", sections=["syky"], settings={"distributed": True})
        now = datetime.now(timezone.utc)
        runs.beat(database, run_id, {"interval": BEAT}, at=now)
        for name, stored, at in (("w1", 7, now), ("w2", 5, now - timedelta(seconds=silent_for))):
            worker = database.add_worker(run_id, name)
            runs.beat_worker(database, worker, {stats_keys.ARTICLES_UPSERTED: stored, stats_keys.LISTING_PAGES: 2,
                                                "interval": BEAT}, at=at)
        return run_id
    finally:
        database.close()


def test_a_live_distributed_run_shows_every_workers_counts_summed(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'live.db'}"
    run_id = _distributed_run(db_url, silent_for=0)
    database = Database(db_url, read_only=True).open(create=False)
    try:
        run = reads.get_run(database, run_id)
        listed = reads.list_runs(database)[0]
        with TestClient(create_app(database)) as client:
            served = client.get(f"/runs/{run_id}").json()
            api_listed = client.get("/runs").json()[0]
    finally:
        database.close()
    assert run["status"] == listed["status"] == "running"
    assert [worker["status"] for worker in run["workers"]] == ["running", "running"]
    assert run["stats"][stats_keys.ARTICLES_UPSERTED] == listed["stats"][stats_keys.ARTICLES_UPSERTED] == 12
    assert served["counts"]["articles_stored"] == api_listed["counts"]["articles_stored"] == 12
    assert served["counts"]["listing_pages"] == 4
    assert [(worker["worker"], worker["status"], worker["counts"]["articles_stored"]) for worker in served["workers"]] == \
        [("w1", "running", 7), ("w2", "running", 5)]


def test_a_silent_worker_reads_dead_in_runs_show_and_the_api_while_the_run_goes_on(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'dead.db'}"
    run_id = _distributed_run(db_url, silent_for=runs.STALE_BEATS * BEAT + 60)
    database = Database(db_url, read_only=True).open(create=False)
    try:
        with TestClient(create_app(database)) as client:
            served = client.get(f"/runs/{run_id}").json()
    finally:
        database.close()
    assert served["status"] == "running"  # w1 still beats for the run
    assert [(worker["worker"], worker["status"]) for worker in served["workers"]] == [("w1", "running"), ("w2", "interrupted")]
    assert "killed" in served["workers"][1]["reason"]
    assert served["counts"]["articles_stored"] == 12  # what the dead one stored counts too
    shown = run_cascrawl("runs", "show", str(run_id), "--db", db_url)
    assert shown.returncode == 0, shown.stderr
    assert "  worker    w1: running, stored 7, listing pages 2" in shown.stdout
    assert f"  worker    w2: interrupted ({runs.WORKER_DEAD_REASON}), stored 5, listing pages 2" in shown.stdout
    as_json = json.loads(run_cascrawl("runs", "show", str(run_id), "--db", db_url, "--json").stdout)
    assert [worker["status"] for worker in as_json["workers"]] == ["running", "interrupted"]


def test_a_worker_without_any_heartbeat_is_not_called_dead():
    assert not runs.worker_stale({"status": "running", "heartbeat_at": None, "started_at": datetime(2020, 1, 1, tzinfo=timezone.utc)})
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    assert runs.worker_stale({"status": "running", "heartbeat_at": old, "live": {"interval": 5}})
    assert not runs.worker_stale({"status": "finished", "heartbeat_at": old})


def test_the_shared_verdict_counts_every_worker():
    finished = {"worker": "w1", "status": "finished", "stats": {}}
    failed = {"worker": "w2", "status": "failed", "reason": "database error: gone",
              "stats": {stats_keys.VERDICT_PROBLEMS: [{"code": "storage_failed", "names": ["gone"], "text": "storing failed: gone"}]}}
    assert shared_run_verdict("finished", "finished", 0, [finished, failed], []) == ("degraded", "worker w2 failed", True)
    assert shared_run_verdict("finished", "finished", 0, [finished], []) == ("finished", "finished", True)
    problems = shared_run_problems([finished, failed], [], 0, [])
    assert [problem["code"] for problem in problems] == ["storage_failed"]
    dead = {"worker": "w3", "status": "interrupted", "stats": None}
    assert shared_run_verdict("finished", "finished", 0, [finished, dead], [])[0] == "degraded"
    assert [problem["code"] for problem in shared_run_problems([finished, dead], [], 0, [])] == ["worker_lost"]
