"""Distributed crawling (scrapy-redis + PostgreSQL): several `cascrawl crawl --redis` worker processes,
one crawl of a copy of the site served on loopback. Every article stored exactly once, every page
fetched once across the workers; one worker killed (SIGKILL) in the middle, the other completes; both
killed, started again, the crawl completes from the queue in Redis; one per-host rate for all workers.
Real services: Redis (tests/redis_server.py) and PostgreSQL (tests/db_backends.py)."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from scrapy_redis import picklecompat
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cascrawl.db import Article, CrawlRun
from cascrawl.db.models import RunWorker, SectionWalk
from cascrawl.distributed import Cluster
from tests.support.fixture_site import build_large_section

from .conftest import REPO, run_cascrawl
from .db_backends import fresh_database, postgres_server  # noqa: F401
from .loopback import CountingSite
from .redis_server import redis_run  # noqa: F401

SECTION = "syky"
ARTICLES = 300


@pytest.fixture()
def pg_url(request, tmp_path):
    """An empty PostgreSQL database: the workers, started together, create the schema once between them."""
    return fresh_database("postgresql", request, tmp_path)


@pytest.fixture()
def big_site(tmp_path):
    root = tmp_path / "site"
    return root, build_large_section(root, SECTION, count=ARTICLES, per_page=20)


_started: list[Worker] = []  # every worker process of the running test (workers_stopped ends the ones left)


@pytest.fixture(autouse=True)
def workers_stopped():
    """After each test, no worker left running (one that hung would go on crawling into the next test)."""
    yield
    while _started:
        worker = _started.pop()
        if worker.process.poll() is None:
            worker.kill()


class Worker:
    """`python -m cascrawl crawl --redis …` in a child process, its output in files."""

    def __init__(self, tmp_path: Path, name: str, site: CountingSite, db_url: str, redis, *extra: str):
        self.name = name
        self.out, self.err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        args = ["crawl", "--base-url", site.url, "--db", db_url, "--section", SECTION, "--redis", redis.url,
                "-s", f"CASCRAWL_REDIS_PREFIX={redis.prefix}", "-s", f"CASCRAWL_WORKER_NAME={name}",
                "-s", "CASCRAWL_REDIS_WORKER_TIMEOUT=3", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
                "-s", "CASCRAWL_RETRY_BACKOFF_BASE=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
                "-s", "LOG_LEVEL=WARNING",
                *extra]
        self.settings = _worker_settings(args)
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "cascrawl", *args], stdout=out, stderr=err,
                                            cwd=REPO, env=os.environ.copy())
        _started.append(self)

    def wait(self, timeout: float = 180) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def output(self) -> str:
        return self.out.read_text() + self.err.read_text()[-3000:]


def _worker_settings(args: list[str]):
    """The settings a worker started with these `cascrawl crawl` arguments runs with: the project's, its
    `-s` ones and --redis (as cascrawl.cli.crawl sets them), then what the Distributed add-on sets."""
    from scrapy.settings import Settings

    from cascrawl.distributed import Distributed

    settings = Settings()
    settings.setmodule("cascrawl.settings", priority="project")
    for flag, value in zip(args, args[1:]):
        if flag == "-s":
            name, _, value = value.partition("=")
            settings.set(name, value, priority="cmdline")
        elif flag == "--redis":
            settings.set("CASCRAWL_REDIS_URL", value, priority="cmdline")
    Distributed().update_settings(settings)
    return settings


def in_flight(settings) -> int:
    """The most requests one worker can hold leased, i.e. what a worker killed at any moment hands over to
    be fetched again: downloading (CONCURRENT_REQUESTS); parsed or cleaned at its extraction worker
    (CASCRAWL_EXTRACT_QUEUE jobs, 0 = twice CONCURRENT_REQUESTS; past that the crawler's thread parses, one
    page at a time); their items waiting for the database: the batch being written and the one filling
    (CASCRAWL_DB_BATCH_SIZE each; the item that fills a batch waits for its commit)."""
    concurrent = settings.getint("CONCURRENT_REQUESTS")
    extraction = settings.getint("CASCRAWL_EXTRACT_QUEUE") or 2 * concurrent
    return concurrent + extraction + 1 + 2 * settings.getint("CASCRAWL_DB_BATCH_SIZE")


def _leased(redis, worker: Worker) -> set[str]:
    """The paths of the requests leased to `worker` (read at once after killing it: before any other worker
    can take them back, which waits for its heartbeat to expire)."""
    key = f"{redis.prefix}:cas_news:leases:{worker.name}"
    return {urlsplit(picklecompat.loads(data)["url"]).path for data in redis.client.zrange(key, 0, -1)}


def _wait_for_articles(site: CountingSite, count: int, *workers: Worker) -> None:
    deadline = time.monotonic() + 120
    while sum(site.article_requests().values()) < count:
        for worker in workers:
            assert worker.process.poll() is None, f"{worker.name} ended before it was killed: {worker.output()}"
        assert time.monotonic() < deadline, "the crawl made no progress"
        time.sleep(0.01)


def _rows(db_url: str, model, order):
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            rows = session.scalars(select(model).order_by(order)).all()
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


def _stored(db_url: str) -> list[str]:
    return [article.url for article in _rows(db_url, Article, Article.id)]


def _listing_fetches(site: CountingSite) -> Counter[str]:
    return Counter({path: n for path, n in site.requests.items() if "/index" in path or path.endswith(f"/{SECTION}/")})


def test_two_workers_share_one_crawl_and_fetch_every_page_once(big_site, pg_url, redis_run, tmp_path):
    root, urls = big_site
    with CountingSite(root, article_delay=0.03) as site:
        workers = [Worker(tmp_path, name, site, pg_url, redis_run) for name in ("w1", "w2")]
        codes = [worker.wait() for worker in workers]
        articles, listings = site.article_requests(), _listing_fetches(site)
    assert codes == [0, 0], [worker.output() for worker in workers]
    stored = _stored(pg_url)
    assert sorted(stored) == sorted(urls)  # every article, each once
    assert len(articles) == ARTICLES and set(articles.values()) == {1}  # each article page fetched once in all
    assert len(listings) == ARTICLES // 20 and set(listings.values()) == {1}  # each listing page once
    runs = _rows(pg_url, CrawlRun, CrawlRun.id)
    assert [run.status for run in runs] == ["finished"]  # one run, shared
    rows = _rows(pg_url, RunWorker, RunWorker.id)
    assert sorted((row.worker, row.status) for row in rows) == [("w1", "finished"), ("w2", "finished")]
    stored_by = {row.worker: row.stats["cascrawl/db/articles_upserted"] for row in rows if row.stats.get("cascrawl/db/articles_upserted")}
    assert sum(stored_by.values()) == ARTICLES and runs[0].stats["cascrawl/db/articles_upserted"] == ARTICLES
    assert set(runs[0].stats["cascrawl/workers"]) == {"w1", "w2"}
    walk = _rows(pg_url, SectionWalk, SectionWalk.section)[0]
    assert walk.walk_complete and walk.boundary_url == urls[0]  # the walk, read by both, is complete
    assert redis_run.keys() == []  # a finished run leaves nothing in Redis: the next run starts afresh

    with CountingSite(root) as site:  # the next scheduled run, nothing new: no article fetched, no alarm
        again = [Worker(tmp_path, name, site, pg_url, redis_run) for name in ("w3", "w4")]
        assert [worker.wait() for worker in again] == [0, 0], [worker.output() for worker in again]
        assert site.article_requests() == Counter() and sum(_listing_fetches(site).values()) <= 2
    assert {run.status for run in _rows(pg_url, CrawlRun, CrawlRun.id)} == {"finished"}
    assert redis_run.keys() == []


def test_one_worker_killed_in_the_middle_the_other_completes(big_site, pg_url, redis_run, tmp_path):
    root, urls = big_site
    with CountingSite(root, article_delay=0.03) as site:
        first = Worker(tmp_path, "w1", site, pg_url, redis_run)
        second = Worker(tmp_path, "w2", site, pg_url, redis_run)
        _wait_for_articles(site, 100, first, second)
        first.kill()
        held = _leased(redis_run, first)
        assert second.wait() == 0, second.output()
        articles, listings = site.article_requests(), _listing_fetches(site)
    assert sorted(_stored(pg_url)) == sorted(urls)  # every article, each once
    twice = {path for path, n in articles.items() if n > 1}
    print(f"article pages fetched twice after the kill: {len(twice)} of the {len(held)} it held "
          f"(in flight at most {in_flight(first.settings)}); listing fetches: {sorted(listings.values())}")
    # Fetched again: only what the killed worker held leased, which is at most what it can have in flight.
    assert len(articles) == ARTICLES and max(articles.values()) <= 2
    assert twice <= held, sorted(twice - held)
    assert len(held) <= in_flight(first.settings)
    assert max(listings.values()) <= 2 and len(listings) == ARTICLES // 20
    rows = {row.worker: row.status for row in _rows(pg_url, RunWorker, RunWorker.id)}
    assert rows == {"w1": "interrupted", "w2": "finished"}
    # every article stored, but a worker died: the run says so (issue 22)
    [run] = _rows(pg_url, CrawlRun, CrawlRun.id)
    assert run.status == "degraded"
    assert {"code": "worker_lost", "names": ["w1"], "text": "worker(s) died before the end of the run: w1"} \
        in run.stats["cascrawl/verdict/problems"]
    walk = _rows(pg_url, SectionWalk, SectionWalk.section)[0]
    assert walk.walk_complete and walk.boundary_url == urls[0]
    assert redis_run.keys() == []


def test_a_worker_stopped_by_sigterm_puts_its_requests_back_and_the_other_completes(big_site, pg_url, redis_run,
                                                                                   tmp_path):
    root, urls = big_site
    with CountingSite(root, article_delay=0.03) as site:
        first = Worker(tmp_path, "w1", site, pg_url, redis_run, "-s", "CASCRAWL_REDIS_WORKER_TIMEOUT=600")
        second = Worker(tmp_path, "w2", site, pg_url, redis_run, "-s", "CASCRAWL_REDIS_WORKER_TIMEOUT=600")
        _wait_for_articles(site, 100, first, second)
        first.process.send_signal(signal.SIGTERM)
        assert first.wait() == 128 + signal.SIGTERM, first.output()
        # Its unfinished requests are back in the queue at once: the other does not wait for a timeout (600 s).
        assert second.wait(timeout=120) == 0, second.output()
        articles = site.article_requests()
    assert sorted(_stored(pg_url)) == sorted(urls)
    assert len(articles) == ARTICLES and set(articles.values()) == {1}  # a clean stop fetches nothing twice
    rows = {row.worker: row.status for row in _rows(pg_url, RunWorker, RunWorker.id)}
    assert rows == {"w1": "stopped", "w2": "finished"}
    assert [run.status for run in _rows(pg_url, CrawlRun, CrawlRun.id)] == ["finished"]
    assert redis_run.keys() == []


def test_both_workers_killed_then_started_again_complete_the_crawl_from_the_queue(big_site, pg_url, redis_run,
                                                                                  tmp_path):
    root, urls = big_site
    with CountingSite(root, article_delay=0.03) as site:
        first = Worker(tmp_path, "w1", site, pg_url, redis_run)
        second = Worker(tmp_path, "w2", site, pg_url, redis_run)
        _wait_for_articles(site, 120, first, second)
        first.kill()
        second.kill()
        leased = {worker.name: _leased(redis_run, worker) for worker in (first, second)}
        held = len(_stored(pg_url))
        counts = {key.rsplit(":", 1)[-1] if ":leases:" not in key else key.split(":", 2)[-1]: redis_run.client.zcard(key)
                  for key in redis_run.keys() if key.endswith(":requests") or ":leases:" in key}
        print(f"killed both with {held} articles stored; queued and leased: {counts}")
        assert 0 < held < ARTICLES
        assert sum(counts.values()) > 0  # what is left waits in Redis: queued, or leased by the dead workers
        again = [Worker(tmp_path, name, site, pg_url, redis_run) for name in ("w3", "w4")]
        codes = [worker.wait() for worker in again]
        articles, listings = site.article_requests(), _listing_fetches(site)
    assert codes == [0, 0], [worker.output() for worker in again]
    missing = sorted(set(urls) - set(_stored(pg_url)))
    assert not missing, (missing[:3], sorted(listings.items()), [worker.output()[-3000:] for worker in again])
    assert sorted(_stored(pg_url)) == sorted(urls)
    twice = {path for path, n in articles.items() if n > 1}
    print(f"article pages fetched twice after killing both: {len(twice)} of the "
          f"{sum(map(len, leased.values()))} they held; listing fetches: {sorted(listings.values())}")
    # Fetched twice: only what the two killed workers held leased (a pop-based queue would have lost those),
    # each at most what a worker can have in flight.
    assert len(articles) == ARTICLES and max(articles.values()) <= 2
    assert twice <= leased["w1"] | leased["w2"], sorted(twice - (leased["w1"] | leased["w2"]))
    assert all(len(paths) <= in_flight(worker.settings) for worker, paths in zip((first, second), leased.values()))
    assert max(listings.values()) <= 2
    runs = _rows(pg_url, CrawlRun, CrawlRun.id)
    # the same run, carried on from the queue; its two killed workers said (issue 22)
    assert [run.status for run in runs] == ["degraded"]
    assert [p["names"] for p in runs[0].stats["cascrawl/verdict/problems"] if p["code"] == "worker_lost"] == [["w1", "w2"]]
    rows = {row.worker: row.status for row in _rows(pg_url, RunWorker, RunWorker.id)}
    assert rows == {"w1": "interrupted", "w2": "interrupted", "w3": "finished", "w4": "finished"}
    assert redis_run.keys() == []


def test_the_per_host_rate_holds_across_workers(tmp_path, pg_url, redis_run):
    root = tmp_path / "site"
    build_large_section(root, SECTION, count=24, per_page=12)
    delay = 0.5
    with CountingSite(root) as site:
        workers = [Worker(tmp_path, name, site, pg_url, redis_run, "-s", f"DOWNLOAD_DELAY={delay}",
                          "-s", "RANDOMIZE_DOWNLOAD_DELAY=False", "-s", "ROBOTSTXT_OBEY=False") for name in ("w1", "w2")]
        assert [worker.wait() for worker in workers] == [0, 0], [worker.output() for worker in workers]
        arrivals = [moment for moment, _ in site.arrivals]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    by_worker = {row.worker: row.stats.get("downloader/request_count", 0) for row in _rows(pg_url, RunWorker, RunWorker.id)}
    print(f"{len(arrivals)} requests, gaps min {min(gaps):.3f} s, median {statistics.median(gaps):.3f} s; "
          f"per worker {by_worker}")
    assert len(arrivals) == 24 + 2 and all(by_worker.values())  # both workers sent requests
    # Never two requests closer than the delay, whichever workers sent them. The turn is taken in Redis when
    # the download starts; a worker's own latency after that (a busy machine) may shorten a gap a little.
    assert min(gaps) >= delay * 0.7
    # ... and the workers share the host's turns rather than each waiting its own delay after the other's.
    assert statistics.median(gaps) < delay * 2


def test_sqlite_with_redis_is_refused_in_one_line(tmp_path, redis_run, site_url):
    db_url = f"sqlite:///{tmp_path / 'one.db'}"
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "cm", "--redis", redis_run.url)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "needs PostgreSQL" in result.stderr
    assert not (tmp_path / "one.db").exists() and redis_run.keys() == []
    # Plain `scrapy crawl` (the project's crawl command) refuses it the same way, before the engine starts.
    plain = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "cas_news", "-a", "sections=cm",
                            "-a", f"base_url={site_url}", "-s", f"CASCRAWL_DATABASE_URL={db_url}",
                            "-s", f"CASCRAWL_REDIS_URL={redis_run.url}"],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr, plain.stderr[-2000:]
    assert plain.stderr.strip().splitlines()[-1].startswith("cascrawl: error: distributed crawling (--redis) needs")
    assert not (tmp_path / "one.db").exists() and redis_run.keys() == []


def test_a_lease_goes_back_to_the_queue_when_its_worker_stops_answering(redis_run):
    """The queue semantics the tests above rely on, on their own: a pop leases; a worker whose heartbeat
    expires has its leases put back by another; a worker leaving puts its own back."""
    base = f"{redis_run.prefix}:cas_news"
    one = Cluster(redis_run.client, base, "one", timeout=1)
    two = Cluster(redis_run.client, base, "two", timeout=1)
    one.register()
    two.register()
    for n, data in enumerate((b"a", b"b", b"c")):
        redis_run.client.zadd(one.queue_key, {data: -n})
    assert one.pop() == b"c" and one.pop() == b"b"  # highest priority first, into one's leases
    assert one.queued() == 1 and redis_run.client.zcard(one.leases_key) == 2
    assert two.others_hold_leases() and two.reclaim_dead() == 0  # one is alive: its leases stay
    one.release(b"b")  # done: gone for good
    redis_run.client.delete(one.alive_key("one"))  # one stops answering (its heartbeat expires)
    assert two.reclaim_dead() == 1 and two.queued() == 2 and two.workers() == ["two"]
    assert two.pop() == b"c" and two.leave() == 0 and two.queued() == 2  # leaving puts its lease back


def test_a_listing_page_that_fails_keeps_the_walk_unfinished_across_workers(tmp_path, pg_url, redis_run):
    """The completeness boundary holds with several workers: a walk with a listing page that failed, read
    partly by each worker, goes on past the page but does not move the boundary; the next distributed run
    reads that page and completes the walk."""
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=100, per_page=20)
    with CountingSite(root) as site:
        site.failing.add(f"/{SECTION}/index_2.shtml")  # the third listing page answers 503, retries included
        workers = [Worker(tmp_path, name, site, pg_url, redis_run) for name in ("w1", "w2")]
        codes = sorted(worker.wait() for worker in workers)
        assert codes == [0, 2], [worker.output() for worker in workers]  # the worker that met the failure: 2
        assert sorted(_stored(pg_url)) == sorted(urls[:40] + urls[60:])  # the articles of the four pages read
        walk = _rows(pg_url, SectionWalk, SectionWalk.section)[0]
        assert not walk.walk_complete and walk.boundary_url is None  # nothing proven complete
        assert redis_run.keys() == []

        site.failing.clear()
        site.reset()
        again = [Worker(tmp_path, name, site, pg_url, redis_run) for name in ("w3", "w4")]
        assert [worker.wait() for worker in again] == [0, 0], [worker.output() for worker in again]
        articles = site.article_requests()
    assert sorted(_stored(pg_url)) == sorted(urls)
    assert len(articles) == 20 and set(articles.values()) == {1}  # only what the first run did not store
    walk = _rows(pg_url, SectionWalk, SectionWalk.section)[0]
    assert walk.walk_complete and walk.boundary_url == urls[0]
    assert [run.status for run in _rows(pg_url, CrawlRun, CrawlRun.id)][-1] == "finished"


def test_a_killed_worker_reads_dead_and_the_shared_run_is_notified_when_the_last_worker_closes_it(
        big_site, pg_url, redis_run, tmp_path):
    """Issue 22 for distributed runs: while the other worker goes on, the killed one reads `interrupted` in
    /runs/{id} with the run `running` and its counts every worker's; the last worker out closes the run
    `degraded` (a worker died) and the shared run's notification names the dead worker."""
    from fastapi.testclient import TestClient

    from cascrawl.api.app import create_app
    from cascrawl.db import Database

    from .test_notify import Webhook

    root, urls = big_site
    beat = ("-s", "CASCRAWL_HEARTBEAT_SECONDS=0.5")
    with Webhook() as hook, CountingSite(root, article_delay=0.05) as site:
        first = Worker(tmp_path, "w1", site, pg_url, redis_run, *beat)
        second = Worker(tmp_path, "w2", site, pg_url, redis_run, *beat, "-s", f"CASCRAWL_NOTIFY_URL={hook.url}")
        _wait_for_articles(site, 60, first, second)
        first.kill()
        database = Database(pg_url, read_only=True).open(create=False)
        try:
            with TestClient(create_app(database)) as client:
                deadline = time.monotonic() + 60
                while True:
                    [listed] = client.get("/runs").json()
                    served = client.get(f"/runs/{listed['id']}").json()
                    workers = {worker["worker"]: worker["status"] for worker in served.get("workers", [])}
                    if workers.get("w1") == "interrupted":
                        break
                    assert time.monotonic() < deadline, served
                    time.sleep(0.2)
                if second.process.poll() is None and served["status"] == "running":  # seen while w2 goes on
                    assert workers["w2"] == "running" and served["counts"]["articles_stored"] > 0
        finally:
            database.close()
        assert second.wait() == 0, second.output()
    assert sorted(_stored(pg_url)) == sorted(urls)
    [run] = _rows(pg_url, CrawlRun, CrawlRun.id)
    assert run.status == "degraded" and run.notified_at is not None
    [message] = hook.received
    assert message["run_id"] == run.id and message["status"] == "degraded"
    assert {"code": "worker_lost", "names": ["w1"], "text": "worker(s) died before the end of the run: w1"} \
        in message["problems"]
    shown = run_cascrawl("runs", "show", str(run.id), "--db", pg_url)
    assert shown.stdout.startswith(f"run {run.id}: degraded") and "  worker    w1: interrupted" in shown.stdout
