"""The WARC archive under real faults: a crawl killed (SIGKILL, a real process) while it archives leaves
files whose whole records all read back and at most one torn record at the end of its last file; the next
run says so, writes new files of its own and completes the database. A full disk under the archive (a small
tmpfs of the test's own): the crawl goes on storing every article, the responses not archived are counted
as a gap and the run names it as a problem; every record that was written reads back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cascrawl import stats_keys
from cascrawl.archive.crawl import OPEN_MARKER
from cascrawl.archive.reader import iter_responses, read_response, torn_offset
from cascrawl.db import Article, Database, reads
from cascrawl.run.verdict import recorded_problems
from tests.support.fixture_site import build_large_section

from .conftest import FAST, REPO, run_cascrawl
from .loopback import CountingSite
from .test_storage_faults import small_disk  # noqa: F401  (fixture: a tmpfs of the test's own)

SECTION = "syky"
BIN = Path(sys.executable).parent


def _crawl_args(base: str, db_url: str, *extra: str) -> list[str]:
    return ["crawl", "--base-url", base, "--db", db_url, "--section", SECTION, *FAST,
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "LOG_LEVEL=WARNING", *extra]


def _rows(db_url: str) -> list[Article]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(Article).order_by(Article.id)))
    finally:
        engine.dispose()


def _runs(db_url: str) -> list[dict]:
    database = Database(db_url)
    try:
        return list(reversed(reads.list_runs(database, limit=10)))
    finally:
        database.close()


def _run_stats(db_url: str) -> dict:
    database = Database(db_url)
    try:
        return reads.get_run(database)["stats"]
    finally:
        database.close()


def _served(root: Path, url: str) -> bytes:
    from urllib.parse import urlsplit

    return (root / urlsplit(url).path.lstrip("/")).read_bytes()


def _records_read_back(root: Path, folder: Path, rows: list[Article]) -> None:
    for row in rows:
        response = read_response(folder, row.warc_file, row.warc_offset)
        assert response.record_id == row.warc_record_id and response.body == _served(root, row.fetched_url)


def test_a_crawl_killed_while_archiving_leaves_a_readable_archive_and_the_next_run_completes_it(tmp_path):
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=300, per_page=20)
    db_url = f"sqlite:///{tmp_path / 'killed.db'}"
    folder = tmp_path / "warc"
    with CountingSite(root, article_delay=0.02) as site:
        process = subprocess.Popen([sys.executable, "-m", "cascrawl", *_crawl_args(site.url, db_url)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                   env=os.environ.copy())
        deadline = time.monotonic() + 120
        while sum(site.article_requests().values()) < 150:
            assert process.poll() is None, f"the crawl ended before it was killed: {process.communicate()[1][-2000:]}"
            assert time.monotonic() < deadline, "the crawl made no progress"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL

        [killed_file] = sorted(folder.glob("cascrawl-run1-*.warc.gz"))
        assert (folder / (killed_file.name + OPEN_MARKER)).exists()  # left open: the next run looks at it
        torn = torn_offset(killed_file)
        whole = list(iter_responses(killed_file))  # the whole records, a torn last one skipped with a warning
        # (the writer may lag the fetches by a few responses: what it had not written when killed is lost
        # with the process, as the pages in flight are)
        assert whole and (torn is None or torn > whole[-1].offset), (len(whole), torn)
        stored = _rows(db_url)
        assert 0 < len(stored) < len(urls)  # killed in the middle
        assert all(row.warc_file == killed_file.name for row in stored)
        _records_read_back(root, folder, stored)  # every stored article's record was written whole

        again = run_cascrawl(*_crawl_args(site.url, db_url))
    assert again.returncode == 0, again.stderr[-3000:]
    assert not (folder / (killed_file.name + OPEN_MARKER)).exists()
    stats = _run_stats(db_url)
    assert stats[stats_keys.WARC_EARLIER_UNCLOSED] == 1
    assert stats.get(stats_keys.WARC_EARLIER_TORN, 0) == (0 if torn is None else 1)
    log = sorted((tmp_path / "logs").glob("*.log"))[-1]  # the second run's
    said = [line for line in log.read_text("utf-8").splitlines() if "left open by an earlier crawl" in line]
    assert len(said) == 1 and killed_file.name in said[0] and "This run writes to new files" in said[0]
    if torn is not None:
        assert f"truncated record at offset {torn}" in said[0]
    new_files = sorted(folder.glob("cascrawl-run2-*.warc.gz"))
    assert [path.name for path in new_files] == ["cascrawl-run2-00001.warc.gz"]
    check = subprocess.run([str(BIN / "warcio"), "check", str(new_files[0])], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-2000:]

    rows = _rows(db_url)
    assert sorted(row.url for row in rows) == sorted(urls)  # the database is complete
    assert all(row.warc_file for row in rows)
    _records_read_back(root, folder, rows)
    assert [run["status"] for run in _runs(db_url)] == ["interrupted", "finished"]


def test_a_full_disk_under_the_archive_is_a_gap_and_the_crawl_stores_every_article(tmp_path, small_disk):  # noqa: F811
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=60, per_page=20)
    disk = small_disk("warc-disk", "96k")
    folder = disk / "warc"
    db_url = f"sqlite:///{tmp_path / 'full.db'}"
    with CountingSite(root) as site:
        result = run_cascrawl(*_crawl_args(site.url, db_url, "-s", f"CASCRAWL_WARC_DIR={folder}",
                                           "-s", f"CASCRAWL_LOG_DIR={tmp_path / 'logs'}"))
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    assert result.returncode == 2, result.stdout + result.stderr[-3000:]  # degraded: the archive has a gap
    rows = _rows(db_url)
    assert sorted(row.url for row in rows) == sorted(urls)  # nothing else is lost
    stats = _run_stats(db_url)
    gaps, records = stats[stats_keys.WARC_GAPS], stats.get(stats_keys.WARC_RECORDS, 0)
    assert gaps > 0 and records > 0  # the disk filled during the crawl
    assert records // 2 + gaps == stats["downloader/response_count"]  # each response archived or counted
    archived = [row for row in rows if row.warc_file]
    missing = [row for row in rows if not row.warc_file]
    assert archived and missing and all(row.warc_offset is None and row.warc_record_id is None for row in missing)
    _records_read_back(root, folder, archived)
    for path in folder.glob("*.warc.gz"):  # whole records only: a failed write was cut back
        assert torn_offset(path) is None
    [run] = _runs(db_url)
    assert run["status"] == "degraded"
    assert any("not archived: the WARC archive could not be written" in problem for problem in recorded_problems(run))
    [log] = (tmp_path / "logs").glob("*.log")
    assert "the WARC archive cannot be written (No space left on device" in log.read_text("utf-8")
