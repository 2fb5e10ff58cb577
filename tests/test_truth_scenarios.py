"""Issue 22's judged scenarios, end to end on loopback copies of the site: an unreachable site, sections that
answer 404, a crawl SIGKILLed and then only inspected, a healthy daily run followed by a missed day. In each,
the crawl's exit code, the stored status, `cascrawl runs`, `runs show`, /runs, /runs/{id}, the operator page
(its HTML through the app), /healthz, `cascrawl health` and /metrics say the same true thing, and a webhook on
loopback is told of every run that is not `finished` (and of no other)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cascrawl.api.app import create_app
from cascrawl.db import Database, reads, runs
from cascrawl.run.notify import NOTIFIED
from tests.support.fixture_site import build_large_section, serve_site

from .conftest import FAST, REPO, SITE, run_cascrawl
from .loopback import CountingSite
from .test_notify import Webhook, closed_port

DAY = "26h"  # CASCRAWL_HEALTH_MAX_AGE's default: a daily timer
BEAT = 0.5  # the killed crawl's CASCRAWL_HEARTBEAT_SECONDS: read dead 1.5 s after its last beat


@dataclass
class Seen:
    """Everything a reader says about the latest run."""

    run_id: int
    stored: dict  # the row as written (no reader's view)
    cli_runs: list[dict]  # `cascrawl runs --json`
    cli_show: dict  # `cascrawl runs show latest --json`
    cli_text: str  # `cascrawl runs show latest`
    api_runs: list[dict]
    api_run: dict
    home: str  # the operator page's text (tags stripped)
    run_page: str
    healthz_code: int
    healthz: dict
    health_exit: int  # `cascrawl health`
    health_cli: dict
    metrics: dict  # (name, labels) -> value

    def statuses(self) -> set[str]:
        """The status of the run, as each reader says it."""
        return {self.cli_runs[0]["status"], self.cli_show["status"], self.api_runs[0]["status"],
                self.api_run["status"], self.cli_text.split("\n", 1)[0].split()[2]}


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _metrics(text: str) -> dict:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def observe(db_url: str, max_age: str = DAY) -> Seen:
    def cli(*args: str, ok=(0,)):
        done = run_cascrawl(*args, "--db", db_url, env={"CASCRAWL_NOTIFY_URL": "", "CASCRAWL_NOTIFY_COMMAND": ""})
        assert done.returncode in ok, done.stderr[-2000:]
        return done

    cli_runs = json.loads(cli("runs", "--json").stdout)
    cli_show = json.loads(cli("runs", "show", "latest", "--json").stdout)
    cli_text = cli("runs", "show", "latest").stdout
    health = cli("health", "--max-age", max_age, "--json", ok=(0, 1))
    database = Database(db_url, read_only=True).open(create=False)
    try:
        stored = runs.get_run(database, cli_show["id"])
        with TestClient(create_app(database, health_max_age=max_age)) as client:
            api_runs = client.get("/runs").json()
            run_id = api_runs[0]["id"]
            api_run = client.get(f"/runs/{run_id}").json()
            home, run_page = client.get("/ui/"), client.get(f"/ui/runs/{run_id}")
            assert home.status_code == 200 and run_page.status_code == 200
            healthz = client.get("/healthz")
            metrics = client.get("/metrics")
            assert metrics.status_code == 200
    finally:
        database.close()
    return Seen(run_id, stored, cli_runs, cli_show, cli_text, api_runs, api_run, _text(home.text), _text(run_page.text),
                healthz.status_code, healthz.json(), health.returncode, json.loads(health.stdout), _metrics(metrics.text))


def assert_one_truth(seen: Seen, status: str, healthy: bool, reason: str) -> None:
    """Every reader says `status` of the latest run, names the same problems, and the health verdict agrees."""
    assert seen.statuses() == {status}, seen.statuses()
    assert seen.cli_text.startswith(f"run {seen.run_id}: {status}")
    problems = [entry["text"] for entry in seen.api_run["problem_entries"]]
    assert seen.api_run["problems"] == problems == seen.cli_show["problems"] == seen.api_runs[0]["problems"]
    assert bool(problems) == (status != "finished"), problems
    assert ("problems: none" in seen.cli_text) == (not problems)
    for text in problems:  # the same words in `runs show` and on the run's page
        assert f"  - {text}" in seen.cli_text
        assert re.sub(r"\s+", " ", text) in seen.run_page, text
    assert f"Run #{seen.run_id}" in seen.run_page and status in seen.run_page and status in seen.home
    # /healthz, `cascrawl health` and /metrics: one verdict
    assert seen.healthz_code == (200 if healthy else 503)
    assert seen.healthz["reason"] == seen.health_cli["reason"] == reason
    assert seen.healthz["verdict"] == seen.health_cli["verdict"] == ("healthy" if healthy else "unhealthy")
    assert seen.health_exit == (0 if healthy else 1)
    assert seen.metrics[("cascrawl_healthy", ())] == (1 if healthy else 0)
    assert seen.metrics[("cascrawl_last_run_status", (("status", status),))] == 1
    assert seen.metrics[("cascrawl_last_run_id", ())] == seen.run_id
    assert seen.healthz["run_id"] == seen.health_cli["run_id"] == seen.run_id
    if reason in ("failed", "degraded", "interrupted"):  # the problems the verdict names are the run's
        assert [entry["text"] for entry in seen.healthz["problems"]] == problems


def _messages(hook: Webhook, run_id: int) -> list[dict]:
    return [message for message in hook.received if message["run_id"] == run_id]


# --- an unreachable site ---

def test_an_unreachable_site_is_failed_everywhere_and_notified(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'offline.db'}"
    with Webhook() as hook:
        crawl = run_cascrawl("crawl", "--base-url", f"http://127.0.0.1:{closed_port()}", "--db", db_url,
                             "--section", "syky,cm", *FAST, "-s", f"CASCRAWL_NOTIFY_URL={hook.url}")
        seen = observe(db_url)
    assert crawl.returncode == 1, crawl.stdout + crawl.stderr[-2000:]
    assert seen.stored["status"] == "failed" and seen.stored["reason"].startswith("site unreachable")
    assert_one_truth(seen, "failed", healthy=False, reason="failed")
    assert any(entry["code"] == "site_unreachable" for entry in seen.api_run["problem_entries"])
    [message] = hook.received
    assert message["run_id"] == seen.run_id and message["status"] == "failed" and message["event"] == "failed"
    assert seen.stored["stats"][NOTIFIED]["sent"][0]["ok"]


# --- sections that answer 404 ---

def test_sections_that_answer_404_degrade_the_run_everywhere_named_and_notified(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    shutil.rmtree(site / "cm")
    shutil.rmtree(site / "kj")
    db_url = f"sqlite:///{tmp_path / 'missing.db'}"
    with Webhook() as hook, serve_site(site) as base:
        crawl = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky,cm,kj", *FAST,
                             "-s", f"CASCRAWL_NOTIFY_URL={hook.url}")
        seen = observe(db_url)
    assert crawl.returncode == 2, crawl.stdout + crawl.stderr[-2000:]
    assert seen.stored["status"] == "degraded"
    assert_one_truth(seen, "degraded", healthy=False, reason="degraded")
    [missing] = [entry for entry in seen.api_run["problem_entries"] if entry["code"] == "section_missing"]
    assert missing["names"] == ["cm", "kj"] and "cm, kj" in missing["text"]
    assert seen.healthz["problems"][0]["names"] == ["cm", "kj"]
    [message] = hook.received
    assert message["run_id"] == seen.run_id and message["status"] == "degraded"
    assert any(problem["names"] == ["cm", "kj"] for problem in message["problems"])


# --- a crawl SIGKILLed, then only inspected ---

def test_a_killed_crawl_only_inspected_reads_interrupted_everywhere_and_is_notified_once(tmp_path):
    root = tmp_path / "site"
    build_large_section(root, "syky", count=300, per_page=20)
    db_url = f"sqlite:///{tmp_path / 'killed.db'}"
    with Webhook() as hook, CountingSite(root, article_delay=2.0) as site:  # minutes of crawl: killed long before
        process = subprocess.Popen(
            [sys.executable, "-m", "cascrawl", "crawl", "--base-url", site.url, "--db", db_url, "--section", "syky",
             *FAST, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "-s", "CASCRAWL_DB_BATCH_SIZE=5",
             "-s", f"CASCRAWL_HEARTBEAT_SECONDS={BEAT}", "-s", "LOG_LEVEL=WARNING",
             "-s", f"CASCRAWL_NOTIFY_URL={hook.url}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO, env=os.environ.copy())
        try:
            _wait_for(lambda: _live_stored(db_url) > 0, process, "a heartbeat with stored articles")
            live = observe(db_url)  # alive: running with live counts, the verdict on the run before (none)
            assert live.statuses() == {"running"}, (live.cli_runs[0], live.cli_text[:300], live.api_run["status"])
            assert live.cli_runs[0]["counts"]["articles_stored"] > 0
            assert live.api_run["counts"]["articles_stored"] > 0 and live.healthz["reason"] == "no_run"
            assert "being walked by run" in live.cli_text and "0 listing pages left" not in live.cli_text
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        _wait_for(lambda: _read_status(db_url) == "interrupted", None, "the killed run read interrupted")

        seen = observe(db_url)  # only inspected: readers say interrupted, the row is as the process left it
        assert seen.stored["status"] == "running" and hook.received == []
        assert_one_truth(seen, "interrupted", healthy=False, reason="interrupted")
        assert seen.api_run["problem_entries"][0]["code"] == "interrupted"
        stored = seen.api_run["counts"]["articles_stored"]
        assert stored > 0 and seen.cli_runs[0]["counts"]["articles_stored"] == stored

        notify = {"CASCRAWL_NOTIFY_URL": hook.url}
        told = run_cascrawl("health", "--db", db_url, env=notify)  # what a monitor's timer runs
        assert told.returncode == 1 and told.stdout.startswith(f"unhealthy: run {seen.run_id} interrupted"), told.stdout
        [message] = hook.received
        assert message["run_id"] == seen.run_id and message["status"] == message["event"] == "interrupted"
        assert message["problems"][0]["code"] == "interrupted" and message["counts"]["articles_inserted"] == stored
        after = observe(db_url)
        assert after.stored["status"] == "interrupted" and after.stored["notified_at"] is not None
        assert after.stored["stats"][NOTIFIED]["sent"][0]["ok"]
        assert_one_truth(after, "interrupted", healthy=False, reason="interrupted")
        assert after.api_run["counts"]["articles_stored"] == stored  # recording the notification kept the counts

        again = run_cascrawl("health", "--db", db_url, env=notify)
        assert again.returncode == 1 and len(hook.received) == 1  # notified once
        with serve_site(SITE) as base:  # nor does the next crawl announce it again
            crawl = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "cm", *FAST,
                                 "-s", f"CASCRAWL_NOTIFY_URL={hook.url}")
        assert crawl.returncode == 0, crawl.stderr[-2000:]
        assert _messages(hook, seen.run_id) == [message] and len(hook.received) == 1


def _wait_for(condition, process, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None:
            assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.1)


def _live_stored(db_url: str) -> int:
    database = Database(db_url)
    try:
        found = reads.list_runs(database, limit=1)
        return int(((found[0].get("live") or {}) if found else {}).get("cascrawl/db/articles_upserted") or 0)
    except Exception:  # no schema yet: the crawl is starting
        return 0
    finally:
        database.close()


def _read_status(db_url: str) -> str | None:
    database = Database(db_url, read_only=True).open(create=False)
    try:
        return reads.get_run(database)["status"]
    finally:
        database.close()


# --- a healthy daily run, then a missed day ---

def test_a_healthy_daily_run_is_healthy_then_a_missed_day_is_stale_while_the_run_stays_finished(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'daily.db'}"
    with Webhook() as hook, serve_site(SITE) as base:
        crawl = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky,cm", *FAST,
                             "-s", f"CASCRAWL_NOTIFY_URL={hook.url}")
        today = observe(db_url)
    assert crawl.returncode == 0, crawl.stdout + crawl.stderr[-2000:]
    assert today.stored["status"] == "finished"
    assert_one_truth(today, "finished", healthy=True, reason="ok")
    assert today.metrics[("cascrawl_last_success_timestamp_seconds", ())] > 0
    assert hook.received == []  # a finished run is not announced

    # The next day's run never came: with the maximum age passed (a small one here, no sleeping), the
    # same finished run is what every reader still shows, and the health verdict is stale, since when.
    missed = observe(db_url, max_age="0.001")
    assert_one_truth(missed, "finished", healthy=False, reason="stale")
    assert missed.healthz["stale_since"] == missed.health_cli["stale_since"] is not None
    assert "no successful run since" in missed.healthz["detail"]
