"""A killed run notified without waiting for the next crawl (cascrawl/run/watch.py): what `cascrawl health`
and `cascrawl serve`'s background check do, on real SQLite rows and a real webhook on loopback. Only a run
found dead (running, heartbeat stale, run lock free) is recorded interrupted and notified, once, whoever
looks first; a run whose crawl holds the lock is left alone."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from cascrawl import stats_keys
from cascrawl.db import Database, RunLock, reads, runs
from cascrawl.run.notify import NOTIFIED, Targets
from cascrawl.run.watch import Watch, notify_dead_runs

from .test_notify import Webhook


def _targets(url: str) -> Targets:
    return Targets(url=url, command="", recovery=False, budget=5.0, tries=2, backoff=0.1)


def _killed_run(database: Database, beat_age: float = 60) -> int:
    run_id = database.start_run(base_url="http://127.0.0.1:1", sections=["syky"], settings={})
    runs.beat(database, run_id, {stats_keys.ARTICLES_UPSERTED: 4, "interval": 1.0},
              at=datetime.now(timezone.utc) - timedelta(seconds=beat_age))
    return run_id


def test_a_run_found_dead_is_recorded_interrupted_and_notified_once(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'dead.db'}").open()
    try:
        killed = _killed_run(database)
        alive = database.start_run(base_url="http://127.0.0.1:1", sections=["syky"], settings={})
        runs.beat(database, alive, {"interval": 60.0})  # beat just now: alive
        with Webhook() as hook:
            assert notify_dead_runs(database, _targets(hook.url)) == [killed]
            assert notify_dead_runs(database, _targets(hook.url)) == []  # once
        [message] = hook.received
        assert message["run_id"] == killed and message["event"] == message["status"] == "interrupted"
        assert message["problems"][0]["code"] == "interrupted" and message["counts"] == {}  # upserted: no insert count
        row = runs.get_run(database, killed)
        assert row["status"] == "interrupted" and row["notified_at"] is not None
        assert row["stats"][NOTIFIED]["sent"][0]["ok"] and row["stats"][NOTIFIED]["event"] == "interrupted"
        assert reads.get_run(database, killed)["stats"][stats_keys.ARTICLES_UPSERTED] == 4  # its counts kept
        assert runs.get_run(database, alive)["status"] == "running" and runs.get_run(database, alive)["notified_at"] is None
    finally:
        database.close()


def test_nothing_is_written_or_sent_while_a_crawl_holds_the_lock_or_without_a_target(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'held.db'}").open()
    try:
        silent = _killed_run(database)
        with Webhook() as hook:
            assert notify_dead_runs(database, _targets("")) == []  # no target: nothing to do
            with RunLock(database):  # a crawl holds it: the silent run may be slow, it is not dead
                assert notify_dead_runs(database, _targets(hook.url)) == []
        assert hook.received == [] and runs.get_run(database, silent)["status"] == "running"
    finally:
        database.close()


def test_serves_background_check_notifies_a_run_killed_while_it_serves(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'serve.db'}"
    database = Database(db_url).open()
    try:
        with Webhook() as hook:
            watch = Watch(db_url, _targets(hook.url), interval=0.1).start()
            try:
                killed = _killed_run(database)
                deadline = time.monotonic() + 30
                while not hook.received:
                    assert time.monotonic() < deadline, "the background check sent nothing"
                    time.sleep(0.05)
                time.sleep(0.5)  # several more checks: still one notification
            finally:
                watch.stop()
        assert [message["run_id"] for message in hook.received] == [killed]
        assert runs.get_run(database, killed)["status"] == "interrupted"
    finally:
        database.close()
