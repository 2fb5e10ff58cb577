"""Storage faults for real, in a crawl of a loopback copy of one section: a corrupted spool left by an
earlier run, a second SQLite writer holding the lock (before the run and during it), a full disk (a
small tmpfs mounted by the test) under the database and under the spool. After each fault and at
most two normal runs every article is stored exactly once, no traceback reaches the terminal, and
the summary lines are true."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cascrawl.db import Database
from tests.support.fixture_site import build_large_section
from cascrawl.spool import Spool, encode_record, rejected_path

from .conftest import FAST, REPO
from .loopback import CountingSite

SECTION = "syky"


def _crawl_args(site_url: str, database: Path, spool_dir: Path, *extra: str) -> list[str]:
    # No LOG_LEVEL: the log goes to its file only, and the terminal shows what an operator sees.
    level = FAST.index("LOG_LEVEL=INFO")
    fast = FAST[:level - 1] + FAST[level + 1:]
    return [sys.executable, "-m", "cascrawl", "crawl", "--base-url", site_url, "--db", f"sqlite:///{database}",
            "--section", SECTION, *fast, "-s", "CASCRAWL_DB_BATCH_SIZE=10",
            "-s", "CASCRAWL_DB_FLUSH_SECONDS=0.5", "-s", f"CASCRAWL_SPOOL_DIR={spool_dir}", *extra]


def _run(args: list[str], env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, **(env or {})})


def _urls(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT url FROM articles")]


def _runs(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as connection:
        return list(connection.execute("SELECT status, reason FROM crawl_runs ORDER BY id"))


def _clean(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr[-3000:]


def _section_and_database(tmp_path: Path, count: int) -> tuple[Path, list[str], Path, Path]:
    """(the site's root, its article URLs, a SQLite file with the schema, a spool directory) for one test."""
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=count, per_page=20)
    database = tmp_path / "c.db"
    Database(f"sqlite:///{database}").open().close()
    return root, urls, database, tmp_path / "spool"


# --- a corrupted spool ---

def _spooled_article(url: str) -> dict:
    """An article row as the pipeline spools it (the columns the database requires)."""
    from datetime import date

    return {"url": url, "fetched_url": url, "docid": int(url.rsplit("_", 1)[1].split(".")[0]), "section": SECTION,
            "title": "中国科学院新闻", "published_date": date(2024, 2, 1), "text": "正文" * 30,
            "content_hash": "0" * 64, "attachments": [], "images": [], "videos": [], "provenance": {}}


def test_a_corrupted_spool_is_quarantined_and_the_run_goes_on(tmp_path):
    root, urls, database, spool_dir = _section_and_database(tmp_path, 40)
    spool = Spool(spool_dir, f"sqlite:///{database}")
    path = spool.path_for_run(7)
    spooled = [_spooled_article(urls[n]) for n in (0, 1)]
    Spool.append(path, spooled, [])
    cut = encode_record("article", {"url": urls[2], "title": "第三条新闻"})
    bad_lines = [cut[:cut.index("第".encode()) + 1] + b"\n", b"\xff\xfe oops\n", b'{"kind": "article"}\n', b"42\n",
                 encode_record("article", {"url": urls[3]})[:30] + b"\n", b"garbage garbage\n"]
    with open(path, "ab") as handle:
        handle.write(b"".join(bad_lines))
    with CountingSite(root) as site:
        result = _run(_crawl_args(site.url, database, spool_dir))
        fetched = site.article_requests()
    _clean(result)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "spool of an earlier run written first: 2 articles, 0 rejects" in result.stdout
    [line] = [line for line in result.stdout.splitlines() if "bad spool line" in line]
    assert line == f"warning: 6 bad spool line(s) skipped, kept with their reasons in {path}.rejected"
    quarantined = [json.loads(entry) for entry in rejected_path(path).read_text("utf-8").splitlines()]
    assert [entry["line"] for entry in quarantined] == [3, 4, 5, 6, 7, 8]
    assert all(entry["reason"] for entry in quarantined)
    assert not path.exists()
    assert sorted(_urls(database)) == sorted(urls)  # every article once (url is unique)
    assert len(fetched) == len(urls) - 2  # the two spooled articles were known, not fetched
    assert [status for status, _ in _runs(database)] == ["finished"]


def test_a_spool_that_cannot_be_read_is_moved_aside(tmp_path):
    root, urls, database, spool_dir = _section_and_database(tmp_path, 20)
    path = Spool(spool_dir, f"sqlite:///{database}").path_for_run(3)
    path.mkdir(parents=True)  # a directory where the file should be: reading it fails
    with CountingSite(root) as site:
        result = _run(_crawl_args(site.url, database, spool_dir))
    _clean(result)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert f"warning: spool {path} cannot be read (Is a directory): moved aside to {path}.unreadable" in result.stdout
    assert sorted(_urls(database)) == sorted(urls)


# --- a second SQLite writer ---

_HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
"""


def _hold_lock(database: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(database), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_database_locked_before_the_run_starts_is_waited_for(tmp_path):
    root, urls, database, spool_dir = _section_and_database(tmp_path, 40)
    with CountingSite(root) as site:
        # Held until the crawl says it waits, however long a loaded machine takes to start it (a lock held for a
        # fixed 15 s was gone before a crawl started in parallel with other tests reached the database).
        holder = _hold_lock(database, 600)
        process = subprocess.Popen(_crawl_args(site.url, database, spool_dir, "-s", "CASCRAWL_DB_OUTAGE_SECONDS=60"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        deadline, before = time.monotonic() + 120, []
        while "waiting for the database" not in (line := process.stderr.readline()):
            assert line and time.monotonic() < deadline, "".join(before)[-3000:]
            before.append(line)
        holder.kill()
        holder.wait()
        stdout, stderr = process.communicate(timeout=240)
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, "".join(before) + line + stderr)
    _clean(result)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "locked by another writer" in result.stderr
    assert "database busy at the start: waited" in result.stdout
    assert sorted(_urls(database)) == sorted(urls)
    assert [status for status, _ in _runs(database)] == ["finished"]
    assert not spool_dir.exists() or not list(spool_dir.glob("*"))


def test_a_database_still_locked_after_the_outage_time_refuses_the_run_in_one_line(tmp_path):
    root, _, database, spool_dir = _section_and_database(tmp_path, 20)
    with CountingSite(root) as site:
        holder = _hold_lock(database, 60)
        result = _run(_crawl_args(site.url, database, spool_dir, "-s", "CASCRAWL_DB_OUTAGE_SECONDS=3"))
        fetched = site.article_requests()
        holder.kill()
        holder.wait()
    _clean(result)
    assert result.returncode == 1
    assert "stayed locked by another writer" in result.stderr and "nothing was fetched" in result.stderr
    assert not fetched
    assert _runs(database) == []  # the run row could not even be made: nothing claims the run happened


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_waiting_for_the_lock_at_the_start_stops_in_one_line(tmp_path, signum):
    root, _, database, spool_dir = _section_and_database(tmp_path, 20)
    with CountingSite(root) as site:
        holder = _hold_lock(database, 40)
        process = subprocess.Popen(_crawl_args(site.url, database, spool_dir), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, cwd=REPO)
        deadline = time.monotonic() + 60
        while "waiting for the database" not in (line := process.stderr.readline()):
            assert line and time.monotonic() < deadline, line
        process.send_signal(signum)
        sent = time.monotonic()
        stdout, stderr = process.communicate(timeout=30)
        took = time.monotonic() - sent
        holder.kill()
        holder.wait()
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr
    assert process.returncode == 1
    assert took < 5 + 2  # at most one attempt blocked in SQLite's 5-s busy wait, then the signal is seen
    assert f"cascrawl: error: stopped by {signum.name} while waiting for the database" in stderr
    assert _runs(database) == [] and not site.article_requests()


def test_a_lock_held_for_twenty_seconds_during_the_run_is_one_pause(tmp_path):
    root, urls, database, spool_dir = _section_and_database(tmp_path, 120)
    with CountingSite(root, article_delay=0.2) as site:  # about 3 s of fetching: the lock comes mid-crawl
        process = subprocess.Popen(_crawl_args(site.url, database, spool_dir, "-s", "CASCRAWL_DB_OUTAGE_SECONDS=120"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        deadline = time.monotonic() + 60
        while sum(site.article_requests().values()) < 30:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        holder = _hold_lock(database, 20)
        stdout, stderr = process.communicate(timeout=240)
        holder.wait(timeout=30)
        fetched = site.article_requests()
    assert process.returncode == 0, stdout + stderr[-3000:]
    assert "Traceback" not in stderr and "Traceback" not in stdout
    [line] = [line for line in stdout.splitlines() if line.startswith("database outage")]
    assert line.startswith("database outage ridden out (locked by another writer): fetching paused ")
    assert line.endswith(" (1 time(s)); nothing lost"), line
    paused = float(line.split("fetching paused ")[1].split(" s")[0])
    # One pause about as long as the lock, not the sum of overlapping ones: it starts when the first write has
    # waited out SQLite's 5-s busy timeout, and ends at the first retry (back-off at most 4 s, then up to 5 s
    # waiting for the lock) after the 20-s lock goes.
    assert 20 - 5 - 1 <= paused <= 20 + 4 + 1, line
    assert "cascrawl: database locked by another writer (database is locked): fetching paused" in stderr
    assert "cascrawl: database back after" in stderr
    assert sorted(_urls(database)) == sorted(urls)
    assert len(fetched) == len(urls) and set(fetched.values()) == {1}
    assert [status for status, _ in _runs(database)] == ["finished"]


# --- a full disk (a tmpfs of the test's own) ---

@pytest.fixture()
def small_disk(tmp_path):
    """mount(name, size) -> a new tmpfs of that size; unmounted after the test. Needs root (CI runs as root)."""
    mounted: list[Path] = []

    def mount(name: str, size: str = "3m") -> Path:
        point = tmp_path / name
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            reason = f"cannot mount a tmpfs (needs root): {result.stderr.strip() or result.returncode}"
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI=true and {reason}", pytrace=False)
            pytest.skip(reason)
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _fill(disk: Path, leave_kib: int) -> Path:
    """Fill the tmpfs until only about `leave_kib` KiB are free; returns the filler (delete it to free the disk)."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_kib * 1024))
    return filler


def _disk_full_setup(tmp_path, small_disk, count: int):
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=count, per_page=20)
    disk = small_disk("db-disk")
    database = disk / "c.db"
    Database(f"sqlite:///{database}").open().close()
    return root, urls, disk, database


def test_a_full_disk_under_the_database_is_no_outage_the_spool_goes_where_there_is_room(tmp_path, small_disk):
    root, urls, disk, database = _disk_full_setup(tmp_path, small_disk, 120)
    spool_disk = small_disk("spool-disk", "1m")  # the spool directory is full too: the state directory takes it
    state = tmp_path / "state"
    env = {"XDG_STATE_HOME": str(state)}
    _fill(spool_disk, 0)
    filler = _fill(disk, 200)
    with CountingSite(root) as site:
        started = time.monotonic()
        first = _run(_crawl_args(site.url, database, spool_disk, "-s", "CASCRAWL_DB_OUTAGE_SECONDS=300",
                                 "-s", f"CASCRAWL_LOG_DIR={tmp_path / 'logs'}"), env=env)
        took = time.monotonic() - started
        stored_first = set(_urls(database))
        [spooled] = list((state / "cascrawl").glob("cascrawl-spool-*.jsonl"))
        in_spool = {row["url"] for row in Spool.read(spooled).articles}
        filler.unlink()
        site.reset()
        second = _run(_crawl_args(site.url, database, spool_disk), env=env)
        fetched_again = site.article_requests()
    _clean(first)
    _clean(second)
    assert first.returncode == 1
    assert took < 120  # not ridden out as an outage (300 s)
    assert "nothing lost" not in first.stdout and "ridden out" not in first.stdout
    [line] = [line for line in first.stdout.splitlines() if "kept in the spool" in line]
    assert "disk full" in line and f"kept in the spool at {spooled};" in line
    count = int(line.split(": ")[-1].split(" articles")[0])
    assert count == len(in_spool) and in_spool and not (in_spool & stored_first)
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    assert f"spool of an earlier run written first: {count} articles" in second.stdout
    assert sorted(_urls(database)) == sorted(urls)
    assert set(fetched_again.values()) <= {1}
    assert not spooled.exists()


def test_a_full_disk_with_nowhere_for_the_spool_names_the_articles_to_fetch_again(tmp_path, small_disk):
    root, urls, disk, database = _disk_full_setup(tmp_path, small_disk, 120)
    for name in ("spool", "state", "tmp"):  # every spool directory on the full disk
        (disk / name).mkdir()
    env = {"XDG_STATE_HOME": str(disk / "state"), "TMPDIR": str(disk / "tmp")}
    filler = _fill(disk, 200)
    with CountingSite(root) as site:
        first = _run(_crawl_args(site.url, database, disk / "spool"), env=env)  # the log on the full disk too
        stored_first = set(_urls(database))
        fetched_first = site.article_requests()
        filler.unlink()
        site.reset()
        second = _run(_crawl_args(site.url, database, disk / "spool"), env=env)
    _clean(first)
    _clean(second)
    assert first.returncode == 1
    assert "nothing lost" not in first.stdout and "kept in the spool" not in first.stdout
    [line] = [line for line in first.stdout.splitlines() if "articles to fetch again" in line]
    number = int(line.split("database or disk is full: ")[1].split(" ")[0])
    assert number == len(fetched_first) - len(stored_first), (line, len(fetched_first), len(stored_first))
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    assert sorted(_urls(database)) == sorted(urls)  # the lost ones were not taken as known
    assert not list(disk.rglob("cascrawl-spool-*.jsonl"))  # no empty spool left behind by the failed appends
