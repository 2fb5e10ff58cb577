"""A run's status is the truth (issue 22): the exit code, the stored status and problems, `runs`, `runs show`,
`/runs` and the operator page say the same thing — real crawls of the fixture site on loopback (an
unreachable site, sections answering 404/410 or failing after retries), and the pure rules (a section that
stopped listing, a distributed worker that died)."""

from __future__ import annotations

import json
import socket

from fastapi.testclient import TestClient

from cascrawl import stats_keys
from cascrawl.api.app import create_app
from cascrawl.db import Database
from cascrawl.health import findings
from cascrawl.run.verdict import recorded_problem_entries, shared_run_problems, shared_run_verdict, verdict

from .conftest import FAST, SITE, run_cascrawl
from .loopback import CountingSite


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once closed


def _crawl(base: str, db_url: str, sections: str, *extra: str, refused: bool = False):
    result = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", sections, *FAST,
                          "-s", "LOG_LEVEL=WARNING", *extra)
    if not refused:  # Scrapy's retry middleware logs the traceback of a refused connection
        assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr[-3000:]
    return result


def _readers(db_url: str) -> dict:
    """What every reader says of the latest run: the row, `runs --json`, `runs show` (text and JSON), `/runs`
    and the operator page."""
    database = Database(db_url).open(create=False)
    try:
        row = database.get_run(1)
        with TestClient(create_app(database)) as client:
            api = client.get("/runs").json()[0]
            page = client.get("/ui/").text
            run_page = client.get("/ui/runs/1").text
    finally:
        database.close()
    listed = json.loads(run_cascrawl("runs", "--json", "--db", db_url).stdout)[0]
    shown = run_cascrawl("runs", "show", "1", "--db", db_url).stdout
    detail = json.loads(run_cascrawl("runs", "show", "1", "--json", "--db", db_url).stdout)
    return {"row": row, "api": api, "page": page, "run_page": run_page, "listed": listed, "shown": shown,
            "detail": detail}


def _codes(problems: list[dict]) -> dict[str, list[str]]:
    return {entry["code"]: entry["names"] for entry in problems}


def test_an_unreachable_site_is_a_failed_run_everywhere(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'offline.db'}"
    result = _crawl(f"http://127.0.0.1:{_closed_port()}", db_url, "yw,cm", "-s", "RETRY_TIMES=0", refused=True)
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    assert "could not reach" in result.stderr
    seen = _readers(db_url)
    assert seen["row"]["status"] == "failed" and seen["row"]["reason"].startswith("site unreachable: ")
    stored = seen["row"]["stats"][stats_keys.VERDICT_PROBLEMS]
    assert [entry["code"] for entry in stored] == ["site_unreachable"]
    assert seen["listed"]["status"] == seen["api"]["status"] == seen["detail"]["status"] == "failed"
    assert seen["shown"].startswith("run 1: failed (site unreachable: ")
    assert "(finished)" not in seen["shown"] and "problems: none" not in seen["shown"]
    assert "problems:\n  - site unreachable: no listing page could be fetched" in seen["shown"]
    assert seen["api"]["problems"] == seen["listed"]["problems"] and seen["api"]["problems"][0] == stored[0]["text"]
    assert 'class="badge failed">failed<' in seen["page"] and stored[0]["text"] in seen["run_page"]


def test_sections_that_answer_404_or_410_degrade_the_run_by_name(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'missing.db'}"
    with CountingSite(SITE) as site:
        site.answers["/yw/"] = 404
        site.answers["/kj/"] = 410
        result = _crawl(site.url, db_url, "syky,yw,kj")
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    assert "crawl run 1: degraded (sections missing)" in result.stdout
    assert "warning: 2 section(s) answered 404 or 410: kj, yw (see the log)" in result.stdout
    seen = _readers(db_url)
    assert seen["row"]["status"] == "degraded"
    problems = seen["row"]["stats"][stats_keys.VERDICT_PROBLEMS]
    assert _codes(problems)["section_missing"] == ["kj", "yw"]
    assert seen["row"]["stats"][stats_keys.SECTIONS_MISSING_NAMES] == ["kj", "yw"]
    assert seen["api"]["status"] == seen["listed"]["status"] == "degraded"
    assert "2 section(s) answered 404 or 410: kj, yw" in seen["api"]["problems"]
    assert seen["shown"].startswith("run 1: degraded (finished)")
    assert "problems:\n  - 2 section(s) answered 404 or 410: kj, yw" in seen["shown"]
    assert "problems: none" not in seen["shown"]
    assert 'class="badge degraded">degraded<' in seen["page"]
    assert "<code>section_missing</code> 2 section(s) answered 404 or 410: kj, yw" in seen["run_page"]
    assert _codes(seen["detail"]["problem_entries"])["section_missing"] == ["kj", "yw"]


def test_a_section_failing_after_retries_degrades_the_run_by_name(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'failing.db'}"
    with CountingSite(SITE) as site:
        site.failing.add("/yw/")
        result = _crawl(site.url, db_url, "syky,yw", "-s", "RETRY_TIMES=1")
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    assert "warning: 1 section(s) could not be fetched after retries: yw" in result.stdout
    seen = _readers(db_url)
    assert seen["row"]["status"] == "degraded"
    codes = _codes(seen["row"]["stats"][stats_keys.VERDICT_PROBLEMS])
    assert codes["section_failed"] == ["yw"] and codes["listing_pages_unread"] == ["yw"]
    assert "1 section(s) could not be fetched after retries: yw" in seen["shown"]


def test_a_clean_run_has_no_problems_anywhere(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'clean.db'}"
    with CountingSite(SITE) as site:
        result = _crawl(site.url, db_url, "syky")
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    seen = _readers(db_url)
    assert seen["row"]["status"] == "finished" and seen["row"]["stats"][stats_keys.VERDICT_PROBLEMS] == []
    assert seen["api"]["problems"] == seen["listed"]["problems"] == []
    assert "problems: none" in seen["shown"]


# --- the pure rules ---

THRESHOLDS = {"min_coverage": {}, "min_pages": 10**6, "max_generic_share": 1.0, "section_min_entries": 5}


def test_a_section_that_stopped_listing_is_named_and_degrades():
    stats = {"finish_reason": "finished", stats_keys.section_entries("yw"): 20, "downloader/response_count": 3,
             stats_keys.LISTING_PAGES: 2,
             stats_keys.WALKS_UNREAD_PAGES: ["section kj: http://x/kj/index_2.shtml (HTTP 503 after retries)"]}
    earlier = [{stats_keys.section_entries("cm"): 12}]
    found = findings(stats, ["yw", "cm", "kj"], earlier, **THRESHOLDS)
    assert _codes(found) == {"listing_pages_unread": ["kj"], "section_empty": ["cm"]}
    judged = verdict({**stats, stats_keys.HEALTH_FINDINGS: found})
    assert (judged.status, judged.exit_code) == ("degraded", 2)
    assert _codes(list(judged.problems)) == {"listing_pages_unread": ["kj"], "section_empty": ["cm"]}
    assert judged.headline == "degraded (layout alarm; listing pages not read)"
    # below the floor of earlier entries: no alarm
    assert findings(stats, ["cm"], [{stats_keys.section_entries("cm"): 4}], **THRESHOLDS)[1:] == []


def test_a_worker_that_died_degrades_the_shared_run_and_is_named():
    workers = [
        {"worker": "w1", "status": "finished", "reason": "finished", "stats": {stats_keys.VERDICT_PROBLEMS: []}},
        {"worker": "w2", "status": "interrupted", "reason": None, "stats": {}},
    ]
    status, reason, done = shared_run_verdict("finished", "finished", 0, workers, [])
    assert (status, done) == ("degraded", True) and "w2" in reason
    problems = shared_run_problems(workers, [], 0, [])
    assert _codes(problems) == {"worker_lost": ["w2"]}
    assert shared_run_verdict("finished", "finished", 0, workers[:1], []) == ("finished", "finished", True)


def test_the_shared_run_counts_every_workers_problems():
    missing = {"code": "section_missing", "names": ["yw"], "text": "1 section(s) answered 404 or 410: yw"}
    workers = [
        {"worker": "w1", "status": "degraded", "reason": "finished", "stats": {stats_keys.VERDICT_PROBLEMS: [missing]}},
        {"worker": "w2", "status": "finished", "reason": "finished", "stats": {stats_keys.VERDICT_PROBLEMS: []}},
    ]
    assert shared_run_verdict("finished", "finished", 0, workers, [])[0] == "degraded"
    assert shared_run_problems(workers, [], 3, []) == [
        missing, {"code": "requests_left", "names": [], "text": "3 requests left in the shared queue"}]


def test_stored_problems_are_read_back_and_old_runs_fall_back_to_the_text_rules():
    entry = {"code": "section_missing", "names": ["yw"], "text": "1 section(s) answered 404 or 410: yw"}
    new = {"status": "degraded", "reason": "finished", "stats": {stats_keys.VERDICT_PROBLEMS: [entry],
                                                                  stats_keys.SECTIONS_MISSING: 1}}
    assert recorded_problem_entries(new) == [entry]
    old = {"status": "finished", "reason": "finished", "stats": {stats_keys.SECTIONS_MISSING: 2}}
    assert recorded_problem_entries(old) == [{"code": "recorded", "names": [], "text": "2 section(s) answered 404"}]
    stopped = {"status": "stopped", "reason": "shutdown", "stats": {stats_keys.VERDICT_PROBLEMS: []}}
    assert [e["text"] for e in recorded_problem_entries(stopped)] == ["status stopped: shutdown"]
    killed = {"status": "interrupted", "reason": None, "stats": {stats_keys.VERDICT_PROBLEMS: []}}
    assert recorded_problem_entries(killed)[0]["code"] == "interrupted"
