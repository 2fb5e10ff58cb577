"""GET /metrics: a Prometheus collector that reads the database at scrape time (docs/api.md lists the series).

Nothing is counted in the serving process: every scrape asks the database, so several `cascrawl serve`
behind a balancer say the same, and a restart loses nothing. Labels have bounded values: sections (the site's),
run statuses (six), reject reasons (codes) and coverage fields. Runs are read through cascrawl.db.reads (a dead
`running` run is reported as `interrupted` there); the plain counts are grouped here, one query each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cascrawl.api import health
from cascrawl.db import frontier, reads
from cascrawl.db.models import Article, CrawlRun, Reject
from cascrawl.health import coverage_record
from cascrawl.run import health_state

logger = logging.getLogger(__name__)

STATUSES = ("running", "finished", "degraded", "failed", "stopped", "interrupted")
COVERAGE_FIELDS = ("title", "date", "body", "source", "generic_fallback")
# The classic text format, which generate_latest writes and every Prometheus 2.x reads (newer clients announce
# version=1.0.0, which Prometheus before 3.0 does not know).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DB_OUTAGES, DB_OUTAGE_SECONDS = "cascrawl/db/outages", "cascrawl/db/outage_seconds"  # cascrawl/run/outage.py


def registry(database, max_age_seconds: float | None = None) -> CollectorRegistry:
    """A registry of its own (not the process-wide default) holding the database's collector."""
    found = CollectorRegistry(auto_describe=False)
    found.register(DatabaseCollector(database, max_age_seconds))
    return found


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


class DatabaseCollector(Collector):
    """The crawler's state as Prometheus metrics, read from `database` (a read-only Database) on each collect."""

    def __init__(self, database, max_age_seconds: float | None = None):
        self.database = database
        self.max_age_seconds = max_age_seconds if max_age_seconds is not None else health.max_age_seconds()

    def collect(self) -> Iterator:
        up = GaugeMetricFamily("cascrawl_database_up", "1 when the database answered this scrape, else 0")
        try:
            families = list(self._families())
        except Exception as error:  # an unreachable database is a value to alert on, not a failed scrape
            logger.error("metrics: database error: %s", self.database.error_line(error))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator:
        with Session(self.database.engine) as session:
            articles = session.execute(select(Article.section, func.count()).where(reads.listed())  # not withdrawn
                                       .group_by(Article.section)).all()
            statuses = dict(session.execute(select(CrawlRun.status, func.count()).group_by(CrawlRun.status)).all())
            running_ids = list(session.scalars(select(CrawlRun.id).where(CrawlRun.status == "running")))
            rejects = session.execute(select(Reject.reason, func.count()).group_by(Reject.reason)).all()
            last_success = session.scalar(select(func.max(CrawlRun.finished_at)).where(CrawlRun.status == "finished"))
        runs = reads.list_runs(self.database, limit=health.RUNS_READ)
        walks = frontier.walk_states(self.database)

        family = GaugeMetricFamily("cascrawl_articles", "Articles stored and not withdrawn, by section",
                                   labels=["section"])
        for section, count in sorted(articles):
            family.add_metric([section], count)
        yield family

        # A `running` row whose crawl died reads as interrupted (cascrawl.db.reads): count it as it reads.
        for run_id in running_ids:
            found = reads.get_run(self.database, run_id)
            if found is not None and found["status"] != "running":
                statuses["running"] -= 1
                statuses[found["status"]] = statuses.get(found["status"], 0) + 1
        family = GaugeMetricFamily("cascrawl_runs", "Crawl runs recorded, by status (a run's status can change: "
                                                    "running, then how it ended)", labels=["status"])
        for status in sorted(set(STATUSES) | set(statuses)):
            family.add_metric([status], statuses.get(status, 0))
        yield family

        family = CounterMetricFamily("cascrawl_rejects", "Pages rejected (not stored), by reason", labels=["reason"])
        for reason, count in sorted(rejects):
            family.add_metric([reason], count)
        yield family

        yield _gauge("cascrawl_last_success_timestamp_seconds",
                     "When the latest run that finished cleanly ended (Unix time)", _timestamp(last_success))

        judged = health_state.judge(runs, datetime.now(timezone.utc), self.max_age_seconds)
        yield _gauge("cascrawl_healthy", "1 when /healthz answers 200 (the latest completed run finished, recently)",
                     1 if judged.healthy else 0)
        yield from _last_run(health_state.latest_completed(runs))

        family = GaugeMetricFamily("cascrawl_backfill_listing_pages_left",
                                   "Listing pages the backfill of a section has still to walk (0 once a walk reached "
                                   "the end of its listing); sections whose pager gave no page count are left out",
                                   labels=["section"])
        for walk in walks:
            left = _pages_left(walk)
            if left is not None:
                family.add_metric([walk.section], left)
        yield family


def _last_run(run: dict | None) -> Iterator:
    """The latest completed run's series (none when there is no completed run yet)."""
    yield _gauge("cascrawl_last_run_id", "Id of the latest completed run", run["id"] if run else None)
    started, ended = (_timestamp(run.get("started_at")), _timestamp(run.get("finished_at"))) if run else (None, None)
    yield _gauge("cascrawl_last_run_start_timestamp_seconds", "When the latest completed run started (Unix time)",
                 started)
    yield _gauge("cascrawl_last_run_end_timestamp_seconds", "When the latest completed run ended (Unix time)", ended)
    yield _gauge("cascrawl_last_run_duration_seconds", "How long the latest completed run took",
                 ended - started if started is not None and ended is not None else None)
    family = GaugeMetricFamily("cascrawl_last_run_status", "1 for the latest completed run's status, 0 for the others",
                               labels=["status"])
    if run:
        for status in sorted(set(STATUSES) - {"running"} | {run["status"]}):
            family.add_metric([status], 1 if status == run["status"] else 0)
    yield family
    stats = (run or {}).get("stats") or {}
    coverage = (run or {}).get("coverage") or coverage_record(stats) or {}
    family = GaugeMetricFamily("cascrawl_last_run_field_coverage_ratio",
                               "Share (0 to 1) of the latest completed run's article pages with each field; "
                               "generic_fallback: the share no CAS layout matched", labels=["field"])
    for name in COVERAGE_FIELDS:
        if isinstance(coverage.get(name), (int, float)):
            family.add_metric([name], float(coverage[name]))
    yield family
    yield _gauge("cascrawl_last_run_database_outages", "Database outages the latest completed run rode out "
                 "(fetching paused until the database answered again)", _number(stats.get(DB_OUTAGES)) if run else None)
    yield _gauge("cascrawl_last_run_database_outage_seconds", "Seconds the latest completed run waited for the database",
                 _number(stats.get(DB_OUTAGE_SECONDS)) if run else None)


def _pages_left(walk) -> int | None:
    """Listing pages the section's backfill has left: 0 once a complete walk set a boundary."""
    if walk.boundary_url is not None or walk.walk_complete:
        return 0
    if not walk.pages_total:
        return None
    return max(walk.pages_total - (walk.walk_pages or 0), 0) + len(walk.pages_unread or [])


def _gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    if value is not None:
        family.add_metric([], value)
    return family


def _timestamp(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment).timestamp()


def _number(value) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0
