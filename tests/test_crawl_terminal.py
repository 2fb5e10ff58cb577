"""What `cascrawl crawl` shows, and where its log goes: a live progress display on a real terminal (a
pseudo-terminal), only the summary without one (cron, systemd), the full log in a file per run named by
the run record, and one line without a traceback for an expected failure."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import time
from datetime import datetime, timezone
from pathlib import Path

from cascrawl.db import Database
from cascrawl.runlog import new_log_file

from .conftest import REPO, SITE, run_cascrawl
from .loopback import CountingSite

# The loopback copy without politeness, but with no LOG_LEVEL given: the log is not streamed (conftest.FAST
# sets LOG_LEVEL, which streams it).
QUICK = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CASCRAWL_RETRY_BACKOFF_BASE=0",
         "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def on_a_terminal(*args: str, columns: int = 100, rows: int = 40) -> tuple[int, str]:
    """`cascrawl ARGS` with stdin, stdout and stderr on a pseudo-terminal of that size: (exit code, what the
    terminal received, escape sequences removed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "cascrawl", *args], cwd=REPO, stdin=follower, stdout=follower,
                               stderr=follower, env={**{name: value for name, value in os.environ.items()
                                                        if name not in ("COLUMNS", "LINES")}, "TERM": "xterm-256color"})
    os.close(follower)
    received = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 180)
            if not ready:
                raise AssertionError(f"no output for 180 s; so far: {received[-2000:]!r}")
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            received += chunk
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    return code, ANSI.sub("", received.decode("utf-8", "replace"))


def recorded_log_file(db_url: str) -> str | None:
    database = Database(db_url)
    try:
        with database.engine.connect() as connection:
            from sqlalchemy import text

            return connection.execute(text("SELECT log_file FROM crawl_runs ORDER BY id DESC LIMIT 1")).scalar()
    finally:
        database.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_on_a_terminal_a_live_progress_then_the_summary_and_no_log_lines(site_url, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'tty.db'}"
    code, screen = on_a_terminal("crawl", "--base-url", site_url, "--db", db_url, "--section", "syky,yw", *QUICK)
    assert code == 0, screen[-3000:]
    # The display is drawn at the start and once more with the final counts before it is cleared.
    assert re.search(r"sections .*0/2 · listing pages 0", screen), screen[:3000]
    assert re.search(r"sections .*2/2 · listing pages \d+", screen), screen[:3000]
    assert re.search(r"articles \d+ fetched · stored \d+ new, 0 updated, 0 unchanged · \d+ rejected", screen)
    assert re.search(r"\d:\d\d:\d\d elapsed", screen)
    summary = screen[screen.index("crawl run 1: ok"):]
    assert "finish reason: finished" in summary and "log: " in summary
    assert "Traceback" not in screen and "[scrapy" not in screen and "INFO:" not in screen
    log_file = recorded_log_file(db_url)
    assert log_file and f"log: {log_file}" in summary and Path(log_file).is_file()


def test_without_a_terminal_only_the_summary_and_the_full_log_in_the_run_s_file(site_url, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'cron.db'}"
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "syky", *QUICK)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # nothing for cron to mail but the summary
    lines = result.stdout.splitlines()
    assert lines[0].startswith("crawl run 1: ok") and lines[-1].startswith("log: ")
    assert "sections" not in result.stdout.split("crawl run 1")[0]  # no progress display
    log_file = Path(lines[-1][len("log: "):])
    assert log_file.parent == tmp_path / "logs" and log_file.name.startswith("cron-")
    log = log_file.read_text("utf-8")
    assert "[scrapy.core.engine] INFO: Spider opened" in log and "Spider closed (finished)" in log
    assert recorded_log_file(db_url) == str(log_file)
    wide = {"COLUMNS": "200"}  # each line whole (the width rules: tests/test_cli_width.py)
    shown = run_cascrawl("runs", "show", "latest", "--db", db_url, env=wide)
    assert f"  log       {log_file}\n" in shown.stdout
    log_file.unlink()
    assert f"  log       {log_file} (no longer there" in run_cascrawl("runs", "show", "latest", "--db", db_url,
                                                                     env=wide).stdout


def test_verbose_streams_the_log_and_still_writes_the_file(site_url, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'verbose.db'}"
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "syky", "--verbose", *QUICK)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[scrapy.core.engine] INFO: Spider closed (finished)" in result.stderr
    log_file = Path(recorded_log_file(db_url))
    assert "Spider closed (finished)" in log_file.read_text("utf-8")


def test_an_unreachable_site_is_one_line_naming_the_log_which_has_the_detail(tmp_path):
    base = f"http://127.0.0.1:{closed_port()}"
    db_url = f"sqlite:///{tmp_path / 'offline.db'}"
    result = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "yw", *QUICK, "-s", "RETRY_TIMES=0")
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"cascrawl: error: could not reach {base} (Connection was refused")
    log_file = recorded_log_file(db_url)
    assert line.endswith(f"(log: {log_file})")
    assert "Connection was refused" in Path(log_file).read_text("utf-8")


def test_a_site_that_answers_every_listing_page_with_503_is_a_degraded_run_not_an_unreachable_one(tmp_path):
    """The site is there (it answers): the run ends with its summary and exit code 2, and says what failed."""
    with CountingSite(SITE) as site:
        site.failing.add("/yw/")
        result = run_cascrawl("crawl", "--base-url", site.url, "--db", f"sqlite:///{tmp_path / 'busy.db'}",
                              "--section", "yw", *QUICK, "-s", "RETRY_TIMES=0")
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    assert "could not reach" not in result.stderr
    assert "crawl run 1:" in result.stdout and "listing page(s) could not be fetched" in result.stdout


def test_an_unreachable_site_on_a_terminal_shows_no_traceback(tmp_path):
    base = f"http://127.0.0.1:{closed_port()}"
    code, screen = on_a_terminal("crawl", "--base-url", base, "--db", f"sqlite:///{tmp_path / 'o.db'}",
                                 "--section", "yw", *QUICK, "-s", "RETRY_TIMES=0")
    assert code == 1
    assert "Traceback" not in screen
    assert [line for line in screen.splitlines() if line.startswith("cascrawl: error:")] == [
        next(line for line in screen.splitlines() if "could not reach" in line)]


def test_log_files_are_one_per_run_and_the_oldest_go_beyond_the_limit(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    made = [new_log_file(db_url, keep=3, now=datetime(2026, 11, day, 6, 0, tzinfo=timezone.utc)) for day in range(1, 6)]
    for index, path in enumerate(made):
        path.write_text(f"run {index}\n", encoding="utf-8")
        os.utime(path, (time.time() + index, time.time() + index))  # written in this order
    assert [path.name for path in made] == [f"archive-202611{day:02d}T060000Z.log" for day in range(1, 6)]
    newest = new_log_file(db_url, keep=3, now=datetime(2026, 11, 6, 6, 0, tzinfo=timezone.utc))
    assert sorted(path.name for path in (tmp_path / "logs").iterdir()) == [made[3].name, made[4].name]
    assert newest.name == "archive-20261106T060000Z.log" and not newest.exists()  # the crawl creates it
    other = new_log_file(f"sqlite:///{tmp_path / 'other.db'}", keep=1)
    assert other.parent == tmp_path / "logs" and made[4].exists()  # another database's files are not touched
    same_second = new_log_file(db_url, keep=0, now=datetime(2026, 11, 5, 6, 0, tzinfo=timezone.utc))
    assert same_second.name == "archive-20261105T060000Z-2.log"


def test_another_run_holding_the_lock_is_one_line_and_no_traceback(site_url, tmp_path):
    from cascrawl.db import RunLock

    db_url = f"sqlite:///{tmp_path / 'locked.db'}"
    database = Database(db_url).open()
    lock = RunLock(database).acquire()
    try:
        result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "syky", *QUICK)
    finally:
        lock.release()
        database.close()
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()  # nothing printed at exit either (no "Unhandled error in Deferred")
    assert line.startswith("cascrawl: error: another cascrawl run is crawling into") and "(log: " in line
    log_file = Path(line.split("(log: ")[1].rstrip(")"))
    assert "another cascrawl run is crawling into" in log_file.read_text("utf-8")


# --- plain `scrapy crawl`: the same one-line failures (cascrawl/commands/crawl.py) ---

def scrapy_crawl(db_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scrapy", "crawl", "cas_news", "-a", "sections=syky",
                           "-s", f"CASCRAWL_DATABASE_URL={db_url}", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=180, env=os.environ.copy())


def test_plain_scrapy_crawl_refused_by_the_lock_is_one_line(site_url, tmp_path):
    from cascrawl.db import RunLock

    db_url = f"sqlite:///{tmp_path / 'locked.db'}"
    database = Database(db_url).open()
    lock = RunLock(database).acquire()
    try:
        result = scrapy_crawl(db_url, "-a", f"base_url={site_url}")
    finally:
        lock.release()
        database.close()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Spider opened" not in result.stderr  # nothing started
    assert result.stderr.splitlines()[-1].startswith("cascrawl: error: another cascrawl run is crawling into")


def test_plain_scrapy_crawl_into_a_schema_behind_is_one_line_then_it_crawls_after_the_upgrade(site_url, tmp_path):
    from cascrawl.db.migrate import head_revision

    db_url = f"sqlite:///{tmp_path / 'old.db'}"
    database = Database(db_url)
    try:
        database.upgrade("0004")
    finally:
        database.close()
    result = scrapy_crawl(db_url, "-a", f"base_url={site_url}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"cascrawl: error: database {db_url} has schema revision 0004, this cascrawl needs {head_revision()}: "
        "run `cascrawl db upgrade --db URL` (or set CASCRAWL_DB_AUTO_UPGRADE=True)")
    upgraded = scrapy_crawl(db_url, "-a", f"base_url={site_url}", "-s", "CASCRAWL_DB_AUTO_UPGRADE=True",
                            "-s", "DOWNLOAD_DELAY=0", "-s", "LOG_LEVEL=WARNING")
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    assert recorded_log_file(db_url) is None  # plain scrapy crawl logs to stderr: no file to name


def test_a_failing_fetch_is_shown_in_the_progress_display_as_it_happens(tmp_path):
    """Offline, the display names the host and the failure with the retry to come, not a silent 0/1."""
    port = closed_port()
    code, screen = on_a_terminal("crawl", "--base-url", f"http://127.0.0.1:{port}", "--db",
                                 f"sqlite:///{tmp_path / 'f.db'}", "--section", "yw", *QUICK,
                                 "-s", "CASCRAWL_RETRY_BACKOFF_BASE=1", "-s", "RETRY_TIMES=2")
    assert code == 1
    assert f"127.0.0.1:{port}: connection refused, retry 1 of 2" in screen, screen[-3000:]
    assert "Traceback" not in screen


def test_the_summary_wraps_at_word_boundaries_to_the_width(site_url, tmp_path):
    from cascrawl.cli.common import display_width

    for columns in (80, 120):
        db_url = f"sqlite:///{tmp_path / f'w{columns}.db'}"
        result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "syky", *QUICK,
                              env={"COLUMNS": str(columns)})
        assert result.returncode == 0, result.stderr[-3000:]
        # (a path or URL longer than the room stays whole on a line of its own, to be copied)
        summary = [line for line in result.stdout.splitlines()[:-1] if len(line.split()[-1]) <= 50]
        assert summary[0].startswith("crawl run 1: ok")
        assert max(map(display_width, summary)) <= columns, result.stdout
        words = " ".join(result.stdout.split())  # no word cut: each count still next to its label
        assert re.search(r"\d+ new, \d+ updated, \d+ unchanged", words) and "finish reason: finished" in words
    # `runs show` of that run at 80 columns: its long lines (counts, settings) continue indented
    assert any(line.startswith("    ") for line in run_cascrawl("runs", "show", "1", "--db", db_url,
                                                                  env={"COLUMNS": "80"}).stdout.splitlines())
