"""Notifications of runs that did not finish cleanly: real crawls of loopback copies POST their summary to a
webhook on loopback (retried, bounded in time) or pipe it to a command; the summary and the retry schedule
alone."""

from __future__ import annotations

import json
import re
import shutil
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cascrawl.db import Database
from cascrawl.run.notify import NOTIFIED, event_of, problem_list, retry_delays, shown_target, summary
from tests.support.fixture_site import serve_site

from .conftest import FAST, SITE, run_cascrawl
from .test_run_health import _runs


# --- pure: the summary, when to send, the retry schedule ---

def test_only_runs_that_did_not_finish_cleanly_are_notified_and_recovery_on_request():
    assert [event_of(s, None, False) for s in ("finished", "degraded", "failed", "interrupted", "stopped")] == \
        [None, "degraded", "failed", "interrupted", None]
    assert event_of("finished", "failed", True) == "recovered"
    assert event_of("finished", "failed", False) is None
    assert event_of("finished", "finished", True) is None and event_of("finished", None, True) is None


def test_the_summary_names_the_problems_and_carries_the_counts():
    run = {"id": 7, "status": "degraded", "reason": "finished", "base_url": "http://127.0.0.1:1",
           "sections": ["kx", "cm"], "started_at": datetime(2026, 1, 2, 3, 4, 5), "finished_at": None,
           "stats": {"cascrawl/db/articles_inserted": 3, "cascrawl/db/articles_revised": 1,
                     "cascrawl/coverage/pages": 9, "cascrawl/listing_pages": 2}}
    problems = [{"code": "section_missing", "names": ["kx"], "text": "section kx answered 404"}, "an old text"]
    message = summary(run, "degraded", problems)
    assert message["run_id"] == 7 and message["status"] == "degraded" and message["event"] == "degraded"
    assert message["problems"] == [{"code": "section_missing", "names": ["kx"], "text": "section kx answered 404"},
                                   {"code": "", "names": [], "text": "an old text"}]
    assert message["counts"] == {"articles_inserted": 3, "articles_revised": 1, "article_pages": 9, "listing_pages": 2}
    assert message["started_at"] == "2026-01-02T03:04:05+00:00" and message["sections"] == ["kx", "cm"]
    lines = message["text"].splitlines()
    assert lines[0] == "cascrawl run 7 degraded"
    assert lines[1] == "- section_missing (kx): section kx answered 404" and lines[2] == "- problem: an old text"
    assert lines[3].startswith("4 articles stored, 9 article pages, 2 listing pages; http://127.0.0.1:1 [kx, cm]")
    failed = summary({**run, "status": "failed", "reason": "could not reach x"}, "failed")
    assert failed["text"].startswith("cascrawl run 7 failed: could not reach x")
    recovered = summary({**run, "status": "finished"}, "recovered", previous_status="failed")
    assert "recovered (the run before was failed)" in recovered["text"]
    assert problem_list(None) == []


def test_retries_double_their_wait_and_stay_within_the_budget():
    assert retry_delays(4, 1.0, 30) == [1.0, 2.0, 4.0]
    assert retry_delays(4, 1.0, 3.5) == [1.0, 2.0]
    assert retry_delays(1, 1.0, 30) == [] and retry_delays(3, 0.5, 30) == [0.5, 1.0]


def test_a_webhook_is_recorded_without_its_secret_path():
    assert shown_target("https://hooks.slack.com/services/T0/B0/secret") == "https://hooks.slack.com/…"
    assert shown_target("http://127.0.0.1:8080/hook?token=x") == "http://127.0.0.1:8080/…"


# --- real crawls, a real webhook ---

class Webhook:
    """A webhook on loopback: records each POSTed JSON; answers the statuses of `answers` in turn (then 200),
    or never answers (`hang`)."""

    def __init__(self, answers=(), hang: bool = False):
        self.received: list[dict] = []
        self.answers, self.hang = list(answers), hang
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(json.loads(body))
                if hook.hang:
                    hook.release.wait(60)
                    return
                self.send_response(hook.answers.pop(0) if hook.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def redesigned_site(tmp_path):
    """A copy of the site whose article pages changed their body containers: a degraded run (layout alarm)."""
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    for page in site.rglob("t*.shtml"):
        html = page.read_bytes().decode("utf-8", errors="surrogateescape")
        html = re.sub(r"trs_editor_view|TRS_Editor|xl_content", "article-body", html)
        page.write_bytes(html.encode("utf-8", errors="surrogateescape"))
    return site


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_degraded_run_is_posted_retried_after_a_500_and_piped_to_the_command(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'notify.db'}"
    piped = tmp_path / "piped.json"
    command = f"{sys.executable} -c \"import sys, pathlib; pathlib.Path({str(piped)!r}).write_bytes(sys.stdin.buffer.read())\""
    with Webhook(answers=[500]) as hook, serve_site(redesigned_site(tmp_path)) as base:
        result = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky,cm,yw", *FAST,
                              "-s", f"CASCRAWL_NOTIFY_URL={hook.url}", "-s", f"CASCRAWL_NOTIFY_COMMAND={command}",
                              "-s", "CASCRAWL_NOTIFY_BACKOFF=0.2")
    assert result.returncode == 2, result.stderr[-2000:]
    [run] = _runs(db_url)
    assert run.status == "degraded"
    assert len(hook.received) == 2 and hook.received[0] == hook.received[1]  # the 500, then the same again
    message = hook.received[1]
    assert message["run_id"] == run.id and message["status"] == "degraded" and message["event"] == "degraded"
    assert message["base_url"] == base and message["sections"] == run.sections
    assert message["problems"] and all(problem["text"] for problem in message["problems"])
    assert message["counts"]["article_pages"] == run.stats["cascrawl/coverage/pages"]
    assert message["text"].startswith(f"cascrawl run {run.id} degraded")
    assert json.loads(piped.read_text("utf-8")) == message
    webhook, piped_record = run.stats[NOTIFIED]["sent"]
    assert webhook["target"] == "webhook" and webhook["ok"] and webhook["attempts"] == 2
    assert webhook["http_status"] == 200 and "secret" not in webhook["to"]
    assert piped_record["target"] == "command" and piped_record["ok"] and piped_record["exit_code"] == 0


def test_a_webhook_that_never_answers_delays_the_end_only_by_the_bound_and_keeps_the_exit_code(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'hang.db'}"
    with Webhook(hang=True) as hook, serve_site(redesigned_site(tmp_path)) as base:
        result = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky,cm,yw", *FAST,
                              "-s", f"CASCRAWL_NOTIFY_URL={hook.url}", "-s", "CASCRAWL_NOTIFY_TIMEOUT=3")
        ended = datetime.now(timezone.utc)
    assert result.returncode == 2, result.stderr[-2000:]
    [run] = _runs(db_url)
    assert run.status == "degraded" and len(hook.received) == 1
    [sent] = run.stats[NOTIFIED]["sent"]
    assert not sent["ok"] and sent["attempts"] == 1 and "timed out" in sent["error"]
    finished = run.finished_at.replace(tzinfo=timezone.utc)
    assert (ended - finished).total_seconds() < 3 + 5  # the bound, and the process's own shutdown


def test_an_unreachable_site_and_a_killed_run_before_it_are_notified_as_their_status_says(tmp_path):
    """The notification follows the stored status: a run that is not `finished` is announced, one that is
    is not. The run left `running` by a killed process is marked interrupted at this start and announced."""
    db_url = f"sqlite:///{tmp_path / 'offline.db'}"
    database = Database(db_url).open()
    killed = database.start_run(base_url="http://127.0.0.1:1", sections=["cm"], settings={})
    database.close()
    with Webhook() as hook:
        result = run_cascrawl("crawl", "--base-url", f"http://127.0.0.1:{closed_port()}", "--db", db_url,
                              "--section", "cm", *FAST, "-s", f"CASCRAWL_NOTIFY_URL={hook.url}")
        time.sleep(0.2)
    earlier, run = _runs(db_url)
    assert earlier.id == killed and earlier.status == "interrupted"
    interrupted = [message for message in hook.received if message["run_id"] == killed]
    assert [message["status"] for message in interrupted] == ["interrupted"]
    assert interrupted[0]["problems"][0]["code"] == "interrupted"
    assert earlier.stats[NOTIFIED]["sent"][0]["ok"]
    own = [message for message in hook.received if message["run_id"] == run.id]
    assert result.returncode != 0
    assert [message["status"] for message in own] == ([] if run.status == "finished" else [run.status])
    assert len(hook.received) == len(interrupted) + len(own)


def test_the_first_finished_run_after_a_degraded_one_is_announced_as_a_recovery_when_asked(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'recovery.db'}"
    with serve_site(redesigned_site(tmp_path)) as base:
        degraded = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky,cm,yw", *FAST)
    assert degraded.returncode == 2, degraded.stderr[-2000:]
    recovery = ("-s", "CASCRAWL_NOTIFY_RECOVERY=True")
    with Webhook() as hook, serve_site(SITE) as base:
        for _ in range(2):  # the recovery, then a finished run after a finished one: nothing to say
            healthy = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky,cm,yw", *FAST,
                                   "-s", f"CASCRAWL_NOTIFY_URL={hook.url}", *recovery)
            assert healthy.returncode == 0, healthy.stderr[-2000:]
    first, second, third = _runs(db_url)
    assert [run.status for run in (first, second, third)] == ["degraded", "finished", "finished"]
    [message] = hook.received
    assert message["event"] == "recovered" and message["run_id"] == second.id
    assert message["status"] == "finished" and message["previous_status"] == "degraded"
    assert NOTIFIED in second.stats and NOTIFIED not in third.stats


def test_a_run_whose_section_answers_404_is_notified_as_its_stored_status_says(tmp_path):
    """The notification follows the stored status (a lost section degrades the run, issue 22): announced
    with the section named when the run is not `finished`, not announced when it is."""
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    shutil.rmtree(site / "cm")  # the section's listing answers 404
    db_url = f"sqlite:///{tmp_path / 'missing.db'}"
    with Webhook() as hook, serve_site(site) as base:
        result = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky,cm", *FAST,
                              "-s", f"CASCRAWL_NOTIFY_URL={hook.url}")
    [run] = _runs(db_url)
    assert result.returncode in (0, 2), result.stderr[-2000:]
    if run.status == "finished":
        assert hook.received == [] and NOTIFIED not in run.stats
        return
    [message] = hook.received
    assert message["status"] == run.status and message["run_id"] == run.id and message["problems"]
    coded = [problem for problem in message["problems"] if problem["code"]]
    assert all("cm" in problem["names"] for problem in coded if problem["code"].startswith("section"))
    assert run.stats[NOTIFIED]["sent"][0]["ok"]
