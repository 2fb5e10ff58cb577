"""GET /metrics: the collector's output on a database written through the real db layer (parsed with
prometheus_client's own parser), and a real Prometheus server scraping a real `cascrawl serve` of a crawl.

The Prometheus test uses Debian's /usr/bin/prometheus (another binary: CASCRAWL_TEST_PROMETHEUS). Without it
the test skips, saying so; under CI (CI=true) it fails instead: .ci/run installs Debian's prometheus package,
so a skip there would hide that no Prometheus ever read the metrics.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cascrawl.api import metrics
from cascrawl.api.app import create_app
from cascrawl.db import Database
from cascrawl.db.models import Article, CrawlRun, Reject, SectionWalk

from tests.support.binaries import required

from .api_support import crawled_database, free_port, made_up_article, serve  # noqa: F401

PROMETHEUS = os.environ.get("CASCRAWL_TEST_PROMETHEUS") or shutil.which("prometheus") or "/usr/bin/prometheus"
NOW = datetime.now(timezone.utc)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a text exposition, as Prometheus's client parses it."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(database: Database, max_age: float = 26 * 3600) -> dict[tuple[str, tuple], float]:
    return samples(metrics.exposition(metrics.registry(database, max_age)).decode())


@pytest.fixture
def database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'metrics.db'}").open()
    yield database
    database.close()


def test_metrics_of_an_empty_database_say_there_is_no_run(database):
    found = scrape(database)
    assert found[("cascrawl_database_up", ())] == 1 and found[("cascrawl_healthy", ())] == 0
    assert {labels: value for (name, labels), value in found.items() if name == "cascrawl_runs"} == {
        (("status", status),): 0 for status in metrics.STATUSES}
    assert not any(name.startswith("cascrawl_last_") for name, _ in found)


def test_the_collector_reads_articles_runs_rejects_coverage_outages_and_walks(database):
    rows = [made_up_article(n, section) for n, section in enumerate(["yw", "yw", "yw", "syky", "kj"], start=1)]
    database.upsert_articles(rows, seen_at=NOW)
    old = database.start_run(base_url="x", sections=["yw"], settings={}, started_at=NOW - timedelta(days=2))
    database.finish_run(old, status="finished", reason="finished", stats={}, finished_at=NOW - timedelta(days=2))
    failed = database.start_run(base_url="x", sections=["yw"], settings={}, started_at=NOW - timedelta(days=1))
    database.finish_run(failed, status="failed", reason="could not reach", stats={},
                        finished_at=NOW - timedelta(days=1))
    started, ended = NOW - timedelta(minutes=20), NOW - timedelta(minutes=5)
    last = database.start_run(base_url="x", sections=["yw", "syky"], settings={}, started_at=started)
    database.add_rejects([{"url": f"https://www.cas.cn/yw/{n}.shtml", "reason": reason, "detail": "",
                           "seen_at": NOW} for n, reason in enumerate(["http_404", "http_404", "missing_body"])],
                         run_id=last)
    coverage = {"pages": 40, "title": 1.0, "date": 0.975, "body": 0.95, "source": 0.5, "generic_fallback": 0.025}
    database.finish_run(last, status="degraded", reason="finished", coverage=coverage, finished_at=ended,
                        stats={"cascrawl/db/outages": 2, "cascrawl/db/outage_seconds": 12.5})
    database.start_run(base_url="x", sections=["yw"], settings={})  # running now: not the last completed run
    with Session(database.engine) as session, session.begin():
        session.add_all([
            SectionWalk(section="yw", walk_run_id=last, walk_complete=False, walk_pages=4, pages_total=10,
                        pages_unread=["https://www.cas.cn/yw/index_2.shtml (HTTP 404)"]),
            SectionWalk(section="syky", boundary_url="https://www.cas.cn/syky/a.shtml", walk_run_id=last,
                        walk_complete=True, walk_pages=3, pages_total=3),
            SectionWalk(section="kj", walk_run_id=last, walk_complete=False, walk_pages=2, pages_total=None)])

    found = scrape(database)
    assert found[("cascrawl_database_up", ())] == 1
    by_section = Counter(row["section"] for row in rows)
    assert {labels[0][1]: value for (name, labels), value in found.items() if name == "cascrawl_articles"} == by_section
    runs = {labels[0][1]: value for (name, labels), value in found.items() if name == "cascrawl_runs"}
    assert runs == {"running": 1, "finished": 1, "failed": 1, "degraded": 1, "stopped": 0, "interrupted": 0}
    assert found[("cascrawl_rejects_total", (("reason", "http_404"),))] == 2
    assert found[("cascrawl_rejects_total", (("reason", "missing_body"),))] == 1
    assert found[("cascrawl_last_run_id", ())] == last
    assert found[("cascrawl_last_run_start_timestamp_seconds", ())] == pytest.approx(started.timestamp())
    assert found[("cascrawl_last_run_end_timestamp_seconds", ())] == pytest.approx(ended.timestamp())
    assert found[("cascrawl_last_run_duration_seconds", ())] == pytest.approx(15 * 60)
    status = {labels[0][1]: value for (name, labels), value in found.items() if name == "cascrawl_last_run_status"}
    assert status == {"finished": 0, "degraded": 1, "failed": 0, "stopped": 0, "interrupted": 0}
    assert found[("cascrawl_last_success_timestamp_seconds", ())] == pytest.approx(
        (NOW - timedelta(days=2)).timestamp())
    assert {labels[0][1]: value for (name, labels), value in found.items()
            if name == "cascrawl_last_run_field_coverage_ratio"} == {k: v for k, v in coverage.items() if k != "pages"}
    assert found[("cascrawl_last_run_database_outages", ())] == 2
    assert found[("cascrawl_last_run_database_outage_seconds", ())] == 12.5
    left = {labels[0][1]: value for (name, labels), value in found.items()
            if name == "cascrawl_backfill_listing_pages_left"}
    assert left == {"yw": 10 - 4 + 1, "syky": 0}  # kj: its pager gave no count
    assert found[("cascrawl_healthy", ())] == 0  # degraded


def test_a_database_that_does_not_answer_is_database_up_0_not_a_failed_scrape(tmp_path):
    from .test_cli_errors import _closed_port

    database = Database(f"postgresql://cascrawl@127.0.0.1:{_closed_port()}/cascrawl")
    with TestClient(create_app(database)) as client:
        response = client.get("/metrics")
        assert response.status_code == 200 and response.headers["content-type"] == metrics.CONTENT_TYPE
        assert samples(response.text) == {("cascrawl_database_up", ()): 0}
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["reason"] == "database_unreachable"
    database.close()


@pytest.fixture(scope="module")
def prometheus():
    return required(PROMETHEUS, (f"no Prometheus at {PROMETHEUS} (Debian: apt-get install prometheus; or set "
                  "CASCRAWL_TEST_PROMETHEUS): /metrics is not tested with a real Prometheus"))


def query(base: str, expression: str) -> list[dict]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


def by_label(results: list[dict], label: str) -> dict[str, float]:
    return {result["metric"][label]: float(result["value"][1]) for result in results}


def test_a_real_prometheus_scrapes_the_metrics_of_a_crawl(prometheus, serve, request, tmp_path):
    db_url = crawled_database("sqlite", request, tmp_path)
    server = serve(db_url)
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: cascrawl
    static_configs:
      - targets: ["127.0.0.1:{server.port}"]
""", encoding="utf-8")
    log = (tmp_path / "prometheus.log").open("w+", encoding="utf-8")
    process = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"prometheus exited {process.returncode}: {log.seek(0) or log.read()}"
            try:
                if query(base, "cascrawl_articles"):
                    break
            except OSError:  # not listening yet
                pass
            assert time.monotonic() < deadline, f"Prometheus scraped nothing in 60 s: {log.seek(0) or log.read()}"
            time.sleep(0.5)
        up = query(base, 'up{job="cascrawl"}')
        assert [float(result["value"][1]) for result in up] == [1.0]

        database = Database(db_url).open(create=False)
        try:
            with Session(database.engine) as session:
                articles = dict(session.execute(select(Article.section, func.count()).group_by(Article.section)).all())
                statuses = dict(session.execute(select(CrawlRun.status, func.count()).group_by(CrawlRun.status)).all())
                rejects = dict(session.execute(select(Reject.reason, func.count()).group_by(Reject.reason)).all())
                last = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(1)).one()
        finally:
            database.close()
        assert articles and by_label(query(base, "cascrawl_articles"), "section") == articles
        runs = by_label(query(base, "cascrawl_runs"), "status")
        assert {status: count for status, count in runs.items() if count} == statuses
        assert by_label(query(base, "cascrawl_rejects_total"), "reason") == rejects
        assert by_label(query(base, "cascrawl_last_run_status == 1"), "status") == {last.status: 1.0}
        [end] = query(base, "cascrawl_last_run_end_timestamp_seconds")
        assert float(end["value"][1]) == pytest.approx(last.finished_at.replace(tzinfo=timezone.utc).timestamp())
        [duration] = query(base, "cascrawl_last_run_duration_seconds")
        assert float(duration["value"][1]) == pytest.approx((last.finished_at - last.started_at).total_seconds())
        coverage = by_label(query(base, "cascrawl_last_run_field_coverage_ratio"), "field")
        assert coverage["title"] == last.coverage["title"] and set(coverage) >= {"title", "date", "body"}
        assert [float(r["value"][1]) for r in query(base, "cascrawl_healthy")] == [1.0]  # the crawl just finished
        assert query(base, "cascrawl_last_success_timestamp_seconds")
        assert by_label(query(base, "cascrawl_backfill_listing_pages_left"), "section")  # the fixture's walks
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
