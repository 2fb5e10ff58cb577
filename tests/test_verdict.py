"""The run verdict (cascrawl/run/verdict.py): every outcome a run can have today — stored status and reason,
exit code, summary headline — and the problems a stored run shows (`runs show`, the API, the operator page)."""

from __future__ import annotations

import signal

import pytest

from cascrawl.health import UNREAD_LISTING
from cascrawl.run.verdict import health_status, recorded_problems, shared_run_verdict, verdict

ALARM = "body found on 10% of 20 article pages (alarm below 95%)"
UNREAD = f"{UNREAD_LISTING}: section yw: https://www.cas.cn/yw/index_3.shtml (404); the section's walk stays unfinished"


def stats(reason: str | None = "finished", **values) -> dict:
    found = {key.replace("__", "/"): value for key, value in values.items()}
    if reason is not None:
        found["finish_reason"] = reason
    return found


# --- the stored status and reason ---

@pytest.mark.parametrize("reason, failure, problems, status, stored_reason, proves_walks", [
    ("finished", None, [], "finished", "finished", True),
    ("finished", None, [ALARM], "degraded", "finished", True),
    ("finished", None, [UNREAD], "degraded", "finished", True),
    ("shutdown", None, [], "stopped", "shutdown", False),
    ("shutdown", None, [ALARM], "stopped", "shutdown", False),  # only a finished run is degraded
    ("closespider_timeout", None, [], "stopped", "closespider_timeout", False),
    ("database_error", "database error: disk full", [], "failed", "database error: disk full", False),
    ("finished", "database error: gone", [ALARM], "failed", "database error: gone", False),
])
def test_the_stored_status_and_reason(reason, failure, problems, status, stored_reason, proves_walks):
    judged = verdict(stats(None, cascrawl__health__problems=problems), reason, failure)
    assert (judged.status, judged.reason, judged.proves_walks) == (status, stored_reason, proves_walks)
    assert judged.alarms == problems


def test_the_reason_defaults_to_the_stats_finish_reason():
    assert verdict(stats("finished")).status == "finished"
    assert verdict(stats("shutdown")).status == "stopped"
    assert verdict(stats("finished"), "shutdown").status == "stopped"


def test_a_run_refused_at_its_start_is_failed_with_why():
    judged = verdict(stats(None), failure="the database stayed locked for 3 s")
    assert (judged.status, judged.reason) == ("failed", "the database stayed locked for 3 s")


@pytest.mark.parametrize("problems, status", [([], "ok"), ([ALARM], "degraded"), ([UNREAD, ALARM], "degraded")])
def test_the_health_status(problems, status):
    assert health_status(problems) == status


# --- the exit code and the summary's headline ---

EXIT_CASES = [
    (stats(), None, False, 0, "ok"),
    (stats(cascrawl__health__problems=[ALARM]), None, False, 2, "degraded (layout alarm)"),
    (stats(cascrawl__health__problems=[UNREAD]), None, False, 2, "degraded (listing pages not read)"),
    (stats(cascrawl__health__problems=[UNREAD, ALARM]), None, False, 2, "degraded (layout alarm; listing pages not read)"),
    (stats(cascrawl__listing_fetch_failed=1, **{"downloader/response_count": 1}), None, False, 2,
     "degraded (listing pages not read)"),
    (stats(cascrawl__listing_fetch_failed=6), None, False, 1, "failed"),  # nothing answered: the site unreachable
    (stats(**{"spider_exceptions/count": 3}), None, False, 2, "degraded (spider exceptions)"),
    (stats(cascrawl__run_locked="another cascrawl run is crawling"), None, False, 1, "failed"),
    (stats(cascrawl__db__articles_lost=2), None, False, 1, "failed"),
    (stats(cascrawl__db__spooled=5, cascrawl__db__failure="the database stayed away"), None, False, 1, "failed"),
    # kept in the spool with no storage failure: the run is stored degraded, and exits 2 like one
    (stats(cascrawl__db__spooled=5, cascrawl__db__articles_spooled=5), None, False, 2, "degraded (articles spooled)"),
    (stats(cascrawl__redis__stopped=True), None, False, 1, "failed"),
    (stats("database_error"), None, False, 1, "failed"),
    (stats("closespider_timeout"), None, False, 1, "failed"),
    (stats("shutdown"), signal.SIGTERM, False, 143, "stopped"),
    (stats("shutdown"), signal.SIGINT, False, 130, "stopped"),
    (stats("shutdown"), None, False, 143, "stopped"),  # stopped without a signal seen: as by SIGTERM
    (stats("shutdown", cascrawl__health__problems=[ALARM]), signal.SIGTERM, False, 143, "degraded (layout alarm)"),
    (stats("shutdown", cascrawl__listing_fetch_failed=1), signal.SIGINT, False, 130, "stopped"),
    (stats(None), signal.SIGTERM, True, 143, "stopped at once"),  # the reactor stopped: no finish reason
    (stats(None), signal.SIGINT, True, 130, "stopped at once"),
    (stats(None, cascrawl__db__spooled=1, cascrawl__db__failure="gone"), signal.SIGTERM, True, 1, "failed"),  # failed outranks the signal
    (stats("shutdown", cascrawl__run_locked="locked"), signal.SIGTERM, False, 1, "failed"),
]


@pytest.mark.parametrize("run_stats, stop_signal, at_once, code, headline", EXIT_CASES)
def test_the_exit_code_and_the_headline(run_stats, stop_signal, at_once, code, headline):
    judged = verdict(run_stats, stop_signal=stop_signal, stopped_at_once=at_once)
    assert (judged.exit_code, judged.headline) == (code, headline)


@pytest.mark.parametrize("run_stats, stop_signal, at_once", [case[:3] for case in EXIT_CASES])
def test_the_exit_code_says_what_the_stored_status_says(run_stats, stop_signal, at_once):
    """0 finished, 2 degraded, 1 failed; a stopped run 1, or 128 + the signal that stopped it."""
    judged = verdict(run_stats, stop_signal=stop_signal, stopped_at_once=at_once)
    expected = {"finished": {0}, "degraded": {2}, "failed": {1}, "stopped": {1, 128 + signal.SIGTERM, 128 + signal.SIGINT}}
    assert judged.exit_code in expected[judged.status]


# --- a stored run's problems ---

def test_a_clean_stored_run_has_no_problems():
    assert recorded_problems({"status": "finished", "reason": "finished", "stats": {"cascrawl/listing_pages": 3}}) == []
    assert recorded_problems({"status": "running", "stats": None}) == []


def test_every_problem_a_stored_run_can_show_in_order():
    run = {"status": "degraded", "reason": "finished", "degraded": "a column", "problems": ["one", 2],
           "stats": {"cascrawl/listing_fetch_failed": 1, "cascrawl/sections_missing": 2, "spider_exceptions/count": 3,
                     "cascrawl/db/articles_lost": 4, "cascrawl/db/articles_spooled": 5,
                     "cascrawl/db/articles_refused": 6, "log_count/ERROR": 7, "cascrawl/walks/incomplete": ["yw", "kj"],
                     "cascrawl/walks/unread_pages": ["section yw: URL (404)"]}}
    assert recorded_problems(run) == [
        "status degraded: finished",
        "1 listing page(s) could not be fetched",
        "2 section(s) answered 404",
        "3 spider exception(s)",
        "4 article(s) lost: the database failed",
        "5 article(s) kept in the spool: the database stayed away (the next run writes them)",
        "6 article(s) refused by the database",
        "7 error(s) logged",
        "not walked to the end (the next run goes on): yw, kj",
        "listing page not read: section yw: URL (404)",
        "a column", "one", "2",
    ]


def test_a_stored_run_without_a_reason_says_so_and_bad_counts_are_no_problem():
    assert recorded_problems({"status": "interrupted", "stats": {"log_count/ERROR": "many", "cascrawl/walks/incomplete": []}}) == [
        "status interrupted: no reason recorded"]


# --- a distributed run, closed by its last worker ---

def _worker(name: str, health: str = "ok", reason: str = "finished") -> dict:
    return {"worker": name, "status": "finished", "reason": reason, "stats": {"cascrawl/health/status": health}}


@pytest.mark.parametrize("status, queued, workers, gave_up, expected", [
    ("finished", 0, [_worker("w1"), _worker("w2")], [], ("finished", "finished", True)),
    ("finished", 0, [_worker("w1"), _worker("w2", health="degraded")], [], ("degraded", "finished", True)),
    ("degraded", 0, [_worker("w1")], [], ("degraded", "finished", True)),
    ("finished", 7, [_worker("w1")], [], ("stopped", "7 requests left in the shared queue", False)),
    ("degraded", 3, [_worker("w1", health="degraded")], [], ("stopped", "3 requests left in the shared queue", False)),
    ("stopped", 0, [_worker("w1")], [], ("stopped", "finished", False)),
    ("failed", 0, [_worker("w1")], [], ("failed", "finished", False)),
    ("finished", 0, [_worker("w1"), _worker("w2", reason="redis_outage")], ["w2"],
     ("degraded", "worker w2 lost Redis: listings walked again next run", True)),
    ("finished", 2, [_worker("w2", reason="redis_outage")], ["w2"], ("stopped", "2 requests left in the shared queue", False)),
])
def test_a_shared_run_closed_by_its_last_worker(status, queued, workers, gave_up, expected):
    assert shared_run_verdict(status, "finished", queued, workers, gave_up) == expected
