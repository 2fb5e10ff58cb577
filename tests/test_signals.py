"""Signals always end the process: a second SIGTERM while requests are in flight stops the crawl within
seconds and the next crawl is not refused; with the process stuck (a database that hangs) it still ends
within seconds; a third signal kills it outright; a SIGKILLed crawl's extraction workers die with it.
Real crawls of a copy served on loopback whose article pages answer slowly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from cascrawl.settings import CASCRAWL_STOP_AT_ONCE_SECONDS as STOP_AT_ONCE_SECONDS
from tests.support.fixture_site import build_large_section
from tests.support.procmem import children

from .conftest import FAST, REPO, run_cascrawl
from .db_backends import fresh_database, postgres_server  # noqa: F401
from .loopback import CountingSite
from .test_interruption import _stored
from .test_run_health import _runs

SECTION = "syky"
# Correctness limits on a shared, loaded machine, not timings: a crawl that waits at exit for a thread
# never ends at all (it was killed after 120 s to find out).
ENDS_WITHIN = 15.0


def _args(base: str, db_url: str, *extra: str) -> list[str]:
    return ["crawl", "--base-url", base, "--db", db_url, "--section", SECTION, *FAST,
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "DOWNLOAD_TIMEOUT=120", "-s", "LOG_LEVEL=WARNING", *extra]


class Crawl:
    """`cascrawl crawl` (or another module: `program`) in a child process, its standard error read as it comes."""

    def __init__(self, *args: str, program: str = "cascrawl"):
        self.process = subprocess.Popen([sys.executable, "-m", program, *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, cwd=REPO, env=os.environ.copy())
        self.err: list[str] = []
        self.out = ""
        self._reader = threading.Thread(target=lambda: self.err.extend(self.process.stderr), daemon=True)
        self._reader.start()

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.err):
            assert self.process.poll() is None, f"the crawl ended first: {self.stderr()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} on stderr: {self.stderr()[-3000:]}"
            time.sleep(0.02)

    def signal(self, number: int) -> float:
        self.process.send_signal(number)
        return time.monotonic()

    def ended_within(self, seconds: float) -> float:
        """Seconds until the process ended; fails (and kills it) when it does not end within `seconds`."""
        started = time.monotonic()
        try:
            self.out = self.process.stdout.read() if self.process.wait(timeout=seconds) is not None else ""
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"still running {seconds:.0f} s later: {self.stderr()[-3000:]}")
        self._reader.join(timeout=5)
        return time.monotonic() - started

    def stderr(self) -> str:
        return "".join(self.err)


def _wait_for_articles(site: CountingSite, count: int, crawl: Crawl) -> None:
    deadline = time.monotonic() + 120
    while sum(site.article_requests().values()) < count:
        assert crawl.process.poll() is None, crawl.stderr()[-3000:]
        assert time.monotonic() < deadline, "the crawl made no progress"
        time.sleep(0.01)


def test_a_second_sigterm_with_requests_in_flight_stops_at_once_and_the_next_crawl_runs(tmp_path):
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=60, per_page=20)
    db_url = f"sqlite:///{tmp_path / 'twice.db'}"
    with CountingSite(root, article_delay=60) as site:  # every article request stays in flight for a minute
        # The deadline pushed past ENDS_WITHIN: only a process that ends by itself passes, however loaded the machine.
        crawl = Crawl(*_args(site.url, db_url, "-s", "CASCRAWL_STOP_AT_ONCE_SECONDS=600"))
        _wait_for_articles(site, 4, crawl)
        crawl.signal(signal.SIGTERM)
        crawl.wait_for("received SIGTERM: finishing the requests in flight")
        crawl.signal(signal.SIGTERM)
        took = crawl.ended_within(ENDS_WITHIN)
        site.article_delay = 0
        # The run lock went with the process: the next crawl is not refused, and completes the section.
        again = run_cascrawl(*_args(site.url, db_url))
    print(f"stopped {took:.1f} s after the second SIGTERM")
    assert crawl.process.returncode == 128 + signal.SIGTERM, crawl.stderr()[-3000:]
    assert "stopped at once" in crawl.out and "the next run fetches them again" in crawl.out, crawl.out
    # It ended by itself, every thread it started ended or daemonic: not by the stop-at-once deadline.
    assert "exiting now" not in crawl.stderr() and "Traceback" not in crawl.stderr(), crawl.stderr()[-3000:]
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert sorted(_stored(db_url)) == sorted(urls)
    assert [run.status for run in _runs(db_url)] == ["interrupted", "finished"]


@pytest.fixture()
def hung_database(request, tmp_path):
    """A PostgreSQL database, and a way to make it hang: another session holding an exclusive lock on the
    articles table (a migration, a careless `LOCK TABLE`) — every write and every count waits."""
    db_url = fresh_database("postgresql", request, tmp_path)
    engines, holders = [], []

    def hang():
        engine = create_engine(db_url)
        engines.append(engine)
        connection = engine.connect()
        connection.exec_driver_sql("BEGIN")
        connection.exec_driver_sql("LOCK TABLE articles IN ACCESS EXCLUSIVE MODE")
        # Held here until the test ends: a connection nobody refers to goes back to the pool whenever the
        # garbage collector gets to it, rolling back and letting go of the lock mid-test.
        holders.append(connection)
        return connection

    yield db_url, hang
    for connection in holders:
        connection.close()
    for engine in engines:
        engine.dispose()


@contextmanager
def _crawl_into_a_hung_database(tmp_path, hung_database):
    """A crawl whose writes hang, stopped gracefully (which waits for them) and then at once: the crawl's
    own thread then waits for the database too (the summary's article count)."""
    db_url, hang = hung_database
    root = tmp_path / "site"
    build_large_section(root, SECTION, count=200, per_page=20)
    with CountingSite(root, article_delay=0.02) as site:
        yield _stop_twice_while_hung(site, db_url, hang)


def _stop_twice_while_hung(site: CountingSite, db_url: str, hang) -> Crawl:
    crawl = Crawl(*_args(site.url, db_url, "-s", "CASCRAWL_DB_BATCH_SIZE=5"))
    _wait_for_articles(site, 2, crawl)
    hang()
    _wait_for_articles(site, 20, crawl)  # more than a batch fetched since: a write is waiting for the lock
    crawl.signal(signal.SIGTERM)
    crawl.wait_for("received SIGTERM: finishing the requests in flight")
    time.sleep(1)  # the graceful stop waits for the hung write
    assert crawl.process.poll() is None
    crawl.signal(signal.SIGTERM)
    crawl.wait_for("stopping at once")
    return crawl


def test_a_second_sigterm_ends_a_crawl_stuck_on_a_hung_database_within_seconds(tmp_path, hung_database):
    with _crawl_into_a_hung_database(tmp_path, hung_database) as crawl:
        took = crawl.ended_within(ENDS_WITHIN)
    print(f"ended {took:.1f} s after the second SIGTERM was handled")
    assert crawl.process.returncode == 128 + signal.SIGTERM
    assert f"still running {STOP_AT_ONCE_SECONDS:.0f} s after the second signal, exiting now" in crawl.stderr()
    assert "Traceback" not in crawl.stderr(), crawl.stderr()[-3000:]


def test_a_third_sigterm_kills_outright(tmp_path, hung_database):
    with _crawl_into_a_hung_database(tmp_path, hung_database) as crawl:
        crawl.signal(signal.SIGTERM)
        crawl.ended_within(ENDS_WITHIN)
    # Killed by the signal itself (the stop-at-once deadline would have exited with 143, a handler ignoring
    # it would have left it running).
    assert crawl.process.returncode == -signal.SIGTERM, crawl.stderr()[-3000:]
    assert "exiting now" not in crawl.stderr()


def _alive(pid: int) -> bool:
    """Running (a zombie is dead: it only waits for its new parent to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_the_extraction_workers_of_a_sigkilled_crawl_die_with_it(tmp_path):
    """Killed while its worker parses a heavy page (300,000 paragraphs, seconds of parsing): the worker dies
    with the crawl, not when it is done with the page and finds its pipe closed."""
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=3, per_page=20)
    for url in urls:
        page = root / SECTION / url.split(f"/{SECTION}/", 1)[1]
        page.write_text(page.read_text("utf-8").replace("</p>", "</p>" + "<p><span>研究</span></p>" * 300_000, 1),
                        "utf-8")
    db_url = f"sqlite:///{tmp_path / 'killed.db'}"
    with CountingSite(root) as site:
        crawl = Crawl(*_args(site.url, db_url, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
                             "-s", "CASCRAWL_MAX_PAGE_TAGS=2000000"))
        _wait_for_articles(site, 1, crawl)
        time.sleep(0.3)  # the page is at the worker, being parsed
        workers = children(crawl.process.pid)
        assert len(workers) == 1 and _alive(workers[0])
        crawl.signal(signal.SIGKILL)
        killed = time.monotonic()
        crawl.process.wait(timeout=30)
        while _alive(workers[0]) and time.monotonic() - killed < 30:
            time.sleep(0.01)
        lived = time.monotonic() - killed
        crawl.ended_within(5)
    print(f"the extraction worker died {lived:.2f} s after the crawl's SIGKILL")
    assert not _alive(workers[0])
    assert lived < 2.0  # the kernel kills it with the crawl (PR_SET_PDEATHSIG)
    assert "Traceback" not in crawl.stderr()  # nor does it print a broken pipe on the crawl's terminal


def test_scrapy_crawl_obeys_the_same_signals(tmp_path):
    """`scrapy crawl` (the project's command, Scrapy's asynchronous process): one SIGTERM stops it gracefully
    (the run recorded `stopped`, everything fetched written), two stop it at once."""
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=60, per_page=20)
    outcomes = []
    for signals_sent in (1, 2):
        db_url = f"sqlite:///{tmp_path / f'scrapy-{signals_sent}.db'}"
        with CountingSite(root, article_delay=0.5 if signals_sent == 1 else 60) as site:
            crawl = Crawl("crawl", "cas_news", "-a", f"sections={SECTION}", "-a", f"base_url={site.url}",
                          "-s", f"CASCRAWL_DATABASE_URL={db_url}", "-s", "DOWNLOAD_DELAY=0",
                          "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4",
                          "-s", "DOWNLOAD_TIMEOUT=120", "-s", "LOG_LEVEL=WARNING", program="scrapy")
            _wait_for_articles(site, 4, crawl)
            crawl.signal(signal.SIGTERM)
            if signals_sent == 2:
                crawl.wait_for("received SIGTERM: finishing the requests in flight")
                crawl.signal(signal.SIGTERM)
            crawl.ended_within(ENDS_WITHIN + 10 * (signals_sent == 1))  # the graceful stop waits for 0.5-s pages
            served = sum(site.article_requests().values())
        outcomes.append((crawl.process.returncode, [run.status for run in _runs(db_url)], len(_stored(db_url)), served))
        assert "Traceback" not in crawl.stderr() and "never awaited" not in crawl.stderr(), crawl.stderr()[-3000:]
    graceful, at_once = outcomes
    assert graceful[:2] == (0, ["stopped"]) and 0 < graceful[2] == graceful[3] < len(urls), graceful
    assert at_once[:2] == (128 + signal.SIGTERM, ["running"]), at_once  # the next run marks it interrupted
