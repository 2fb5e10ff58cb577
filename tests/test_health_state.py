"""The health rule of /healthz and `cascrawl health` (cascrawl/run/health_state.py): pure, on run records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cascrawl.run import health_state
from cascrawl.run.health_state import judge, parse_max_age

NOW = datetime(2026, 6, 14, 12, 0, tzinfo=timezone.utc)
DAY = 26 * 3600.0


def run(run_id: int, status: str, ended_hours_ago: float | None, **extra) -> dict:
    started = NOW - timedelta(hours=(ended_hours_ago or 0) + 1)
    ended = NOW - timedelta(hours=ended_hours_ago) if ended_hours_ago is not None else None
    return {"id": run_id, "status": status, "reason": extra.pop("reason", status), "started_at": started,
            "finished_at": ended, "stats": extra.pop("stats", {}), **extra}


def test_a_recent_finished_run_is_healthy():
    health = judge([run(3, "finished", 2)], NOW, DAY)
    assert (health.healthy, health.reason, health.run["id"]) == (True, "ok", 3)
    assert health.age_seconds == 2 * 3600 and health.stale_since is None and health.problems == []
    assert health_state.as_json(health)["verdict"] == "healthy"


def test_a_running_run_is_skipped_the_latest_completed_one_is_judged():
    running = {"id": 5, "status": "running", "started_at": NOW, "finished_at": None, "stats": {}}
    assert judge([running, run(4, "finished", 3)], NOW, DAY).healthy
    failed = judge([running, run(4, "failed", 3, reason="could not reach https://www.cas.cn")], NOW, DAY)
    assert (failed.healthy, failed.reason, failed.run["id"]) == (False, "failed", 4)
    assert "could not reach https://www.cas.cn" in failed.detail


@pytest.mark.parametrize("status", ["failed", "stopped", "interrupted"])
def test_a_run_that_did_not_finish_is_unhealthy_however_recent(status):
    health = judge([run(2, status, 0.1), run(1, "finished", 1)], NOW, DAY)
    assert (health.verdict, health.reason) == ("unhealthy", status)
    assert health.detail.startswith(f"run 2 {status}")


def test_degraded_names_its_problems_from_the_verdicts_codes():
    problems = [{"code": "section_missing", "names": ["yw", "kj"], "text": "sections yw, kj answered 404"}]
    health = judge([run(7, "degraded", 1, stats={health_state.PROBLEMS_KEY: problems})], NOW, DAY)
    assert (health.healthy, health.reason) == (False, "degraded")
    assert health.problems == problems and "sections yw, kj answered 404" in health.detail


def test_degraded_runs_stored_before_problem_codes_fall_back_to_recorded_problems():
    stats = {"cascrawl/listing_fetch_failed": 2}
    health = judge([run(7, "degraded", 1, stats=stats)], NOW, DAY)
    assert health.reason == "degraded"
    texts = [problem["text"] for problem in health.problems]
    assert "2 listing page(s) could not be fetched" in texts
    assert {problem["code"] for problem in health.problems} == {"recorded"}  # the one reader: verdict.recorded_problem_entries


def test_a_finished_run_older_than_the_maximum_age_is_stale_since_it_passed_it():
    health = judge([run(9, "finished", 30)], NOW, DAY)
    assert (health.healthy, health.reason) == (False, "stale")
    assert health.age_seconds == 30 * 3600
    assert health.stale_since == NOW - timedelta(hours=30) + timedelta(seconds=DAY)
    assert judge([run(9, "finished", 25.9)], NOW, DAY).healthy
    assert health_state.as_json(health)["stale_since"] == health.stale_since.isoformat()


def test_naive_times_are_utc_as_sqlite_returns_them():
    stored = run(1, "finished", 1)
    stored["finished_at"] = stored["finished_at"].replace(tzinfo=None)
    assert judge([stored], NOW, DAY).age_seconds == 3600


def test_no_run_at_all_or_only_a_running_one_is_unhealthy():
    assert judge([], NOW, DAY).reason == "no_run"
    running = {"id": 1, "status": "running", "started_at": NOW, "finished_at": None}
    assert judge([running], NOW, DAY).reason == "no_run"
    assert health_state.unreachable("connection refused").reason == "database_unreachable"


@pytest.mark.parametrize("text, seconds", [("93600", 93600), ("1.5", 1.5), ("26h", 93600), ("90m", 5400),
                                           ("1d2h", 93600), ("1h 30m", 5400), ("2w", 1209600), (60, 60)])
def test_max_age_in_seconds_or_as_a_duration(text, seconds):
    assert parse_max_age(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "26 hours", "0", "-5", "h", "1x"])
def test_a_max_age_that_is_not_one_is_refused(text):
    with pytest.raises(ValueError):
        parse_max_age(text)
