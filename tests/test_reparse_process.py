"""`cascrawl reparse` as the operator runs it: the real command in a child process, its worker processes, its
exit codes and output, and a real SIGINT / SIGTERM in the middle of a run, then a second run that finishes
the job without redoing anything wrong."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import pytest

from tests.support.archived import Page, fixture_pages, store_archived
from tests.support.fixture_site import build_large_section

from .conftest import REPO, SITE, copy_sqlite, run_cascrawl

CREDIT_RULE = "CASCRAWL_BOILERPLATE_EXTRA_PATTERNS=" + json.dumps([r"[^\s]{0,40}供图"], ensure_ascii=False)
GENERATED = 600  # articles of one layout, each with a photo credit line (…研究团队供图)


def query(url: str, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A section of GENERATED articles archived and stored, once for the module (SQLite; `warc/` beside it)."""
    folder = tmp_path_factory.mktemp("generated")
    site = folder / "site"
    build_large_section(site, "syky", count=GENERATED)
    pages = [Page(f"https://www.cas.cn/{path.relative_to(site).as_posix()}", path.read_bytes())
             for path in sorted(site.rglob("t*.shtml"))]
    url = f"sqlite:///{folder / 'cas.db'}"
    store_archived(url, folder / "warc", pages)
    return url, folder / "warc"


def own_copy(generated, tmp_path) -> str:
    """A copy of the generated database with the archive beside it (where `cascrawl reparse` looks: `warc/`
    next to a SQLite file), for one test."""
    url, archive = generated
    (tmp_path / "warc").symlink_to(archive, target_is_directory=True)
    return copy_sqlite(url, tmp_path / "cas.db")


def test_the_command_with_two_worker_processes_and_its_exit_codes(tmp_path):
    url = f"sqlite:///{tmp_path / 'cas.db'}"
    store_archived(url, tmp_path / "warc", fixture_pages(SITE))
    affected = query(url, "SELECT count(*) FROM articles WHERE text LIKE '%供图%'")[0][0]

    dry = run_cascrawl("reparse", "--db", url, "--dry-run", "--processes", "2", "-s", CREDIT_RULE)
    assert dry.returncode == 0, dry.stderr
    assert f"would change {affected}: text {affected}" in dry.stdout and "+++ text (today)" in dry.stdout
    assert query(url, "SELECT count(*) FROM crawl_runs") == [(0,)]

    done = run_cascrawl("reparse", "--db", url, "--processes", "2", "-s", CREDIT_RULE)
    assert done.returncode == 0, done.stderr
    assert "reparse run 1 of" in done.stdout and f"{affected} new revisions" in done.stdout
    assert query(url, "SELECT count(*) FROM article_revisions") == [(affected,)]
    (status, settings), = query(url, "SELECT status, settings FROM crawl_runs")
    assert status == "finished" and json.loads(settings)["CASCRAWL_RUN_KIND"] == "reparse"

    (tmp_path / "warc" / "cascrawl-run1-00000.warc.gz").unlink()  # the archive pruned: every record is gone
    degraded = run_cascrawl("reparse", "--db", url, "--processes", "1")
    assert degraded.returncode == 2, degraded.stderr
    assert "problem: " in degraded.stdout and "could not be read" in degraded.stdout
    assert "Traceback" not in degraded.stderr and "not re-extracted (archive_unreadable)" in degraded.stderr

    bad = run_cascrawl("reparse", "--db", url, "--since", "2025-13-01")
    assert bad.returncode == 2 and "expected a date" in bad.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_run_stopped_by_a_signal_is_finished_by_the_next_one_without_harm(generated, tmp_path, stop):
    url = own_copy(generated, tmp_path)
    before = dict(query(url, "SELECT url, updated_at FROM articles"))
    process = subprocess.Popen([sys.executable, "-m", "cascrawl", "reparse", "--db", url, "--processes", "2",
                                "-s", CREDIT_RULE], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        # A first batch is in, and the run said it is alive (its heartbeat: readers see it running, not dead).
        while not (query(url, "SELECT count(*) FROM articles WHERE revision = 2")[0][0]
                   and query(url, "SELECT count(*) FROM crawl_runs WHERE heartbeat_at IS NOT NULL")[0][0]):
            assert process.poll() is None and time.monotonic() < deadline, "the run ended before it stored anything"
            time.sleep(0.05)
        (live,), = query(url, "SELECT live FROM crawl_runs")
        assert json.loads(live)["cascrawl/reparse/examined"] > 0
        process.send_signal(stop)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + stop, err
    assert f"{signal.Signals(stop).name} received" in err and "Traceback" not in err
    (status, reason), = query(url, "SELECT status, reason FROM crawl_runs")
    assert (status, reason) == ("stopped", "shutdown")
    revised_first = query(url, "SELECT count(*) FROM articles WHERE revision = 2")[0][0]
    assert 0 < revised_first < GENERATED  # stopped in the middle, what was written is whole

    again = run_cascrawl("reparse", "--db", url, "--processes", "2", "-s", CREDIT_RULE)
    assert again.returncode == 0, again.stderr
    assert f"changed      {GENERATED - revised_first}" in again.stdout
    assert f"unchanged    {revised_first}" in again.stdout
    # Every article revised exactly once, its one old version archived; none lost, none twice.
    assert query(url, "SELECT revision, count(*) FROM articles GROUP BY revision") == [(2, GENERATED)]
    assert query(url, "SELECT count(*), count(DISTINCT article_id) FROM article_revisions") == [(GENERATED, GENERATED)]
    assert query(url, "SELECT count(*) FROM articles WHERE text LIKE '%供图%'") == [(0,)]
    after = dict(query(url, "SELECT url, updated_at FROM articles"))
    assert all(after[u] > before[u] for u in before)
    assert [row[0] for row in query(url, "SELECT status FROM crawl_runs ORDER BY id")] == ["stopped", "finished"]
