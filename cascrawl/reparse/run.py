"""A re-extraction run: the selected stored articles read a page at a time, their archived responses parsed and
cleaned by a process pool (cascrawl/reparse/worker.py), what changed written in the parent, a batch per page,
through the crawl's own upsert (a new revision for new content, the old one to `article_revisions`, the
change cursor moved for changed rows only, nothing written for the others, last_seen_at never moved).

Like a crawl it holds the run lock and records a run in `crawl_runs` (settings `CASCRAWL_RUN_KIND: reparse`),
with its stats, its problems under `cascrawl/verdict/problems` and the status of its verdict
(cascrawl/run/verdict.py, reparse_verdict): finished, degraded (problems named), failed (the database
refused), stopped (SIGINT / SIGTERM: the batches written stay, the page being parsed is dropped). A second run after a stop finds what the first stored already current and changes nothing: running
it again is the way to resume. --dry-run writes nothing, takes no lock and records no run.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cascrawl
from cascrawl import stats_keys
from cascrawl.db import Database, RunLock
from cascrawl.db.reparse import Selection, count_selected, selected_rows
from cascrawl.reparse.compare import PROVENANCE_KEY
from cascrawl.reparse.worker import Outcome
from cascrawl.run.verdict import REPARSE_NOT_ARCHIVED, reparse_verdict

logger = logging.getLogger(__name__)

RUN_KIND = "reparse"  # crawl_runs.settings["CASCRAWL_RUN_KIND"] of a re-extraction run; a crawl's runs have none
RUN_KIND_SETTING = "CASCRAWL_RUN_KIND"
PAGE_ROWS = 200  # stored rows read, parsed and written together
WARN_EACH = 5  # skipped articles named in the log per reason; the rest are counted

# The run's speed (crawl_runs.stats); its counts are stats_keys.REPARSE_*.
SECONDS = "cascrawl/reparse/seconds"
STARTUP_SECONDS = "cascrawl/reparse/startup_seconds"
RATE = "cascrawl/reparse/articles_per_second"


@dataclass
class Options:
    database_url: str
    archive: Path | None  # the WARC archive's folder (cascrawl.archive.paths.archive_dir)
    selection: Selection = field(default_factory=Selection)
    overrides: dict[str, Any] = field(default_factory=dict)  # -s NAME=value, as a crawl takes them
    processes: int = 0  # 0: os.cpu_count()
    dry_run: bool = False
    examples: int = 3  # --dry-run: changed articles shown with a diff
    heartbeat_seconds: float = 5.0


@dataclass
class Example:
    url: str
    template: str | None
    fields: list[str]
    stored: dict[str, Any]
    row: dict[str, Any]


@dataclass
class Report:
    """What a run did (or, dry, would do)."""

    run_id: int | None = None
    status: str = "finished"
    reason: str = "finished"
    selected: int = 0
    stats: Counter = field(default_factory=Counter)
    problems: list[dict] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    seconds: float = 0.0
    startup_seconds: float = 0.0  # of that, starting the worker processes
    stop_signal: int | None = None

    @property
    def examined(self) -> int:
        return self.stats[stats_keys.REPARSE_EXAMINED]

    @property
    def rate(self) -> float | None:
        """Articles examined per second once the worker processes had started."""
        working = self.seconds - self.startup_seconds
        return self.examined / working if working > 0 and self.examined else None

    exit_code: int = 0  # the verdict's: 0 finished, 2 degraded (problems named), 1 failed, 128 + signal stopped

    def by_prefix(self, prefix: str) -> dict[str, int]:
        return {key[len(prefix):]: value for key, value in sorted(self.stats.items())
                if key.startswith(prefix) and value}


class Stop(Exception):
    """A SIGINT / SIGTERM arrived: the run ends after the batch being written."""


class Reparse:
    def __init__(self, options: Options):
        self.options = options
        self.report = Report()
        self.database: Database | None = None
        self._stop: int | None = None
        self._last_beat = 0.0
        self._warned: Counter = Counter()
        self._failure: str | None = None  # why storing failed, if it did
        self.processes = 1

    # --- the run ---

    def run(self) -> Report:
        """Blocking; SIGINT and SIGTERM stop it cleanly (the batches written stay, the page being parsed is dropped)."""
        options, report = self.options, self.report
        from cascrawl.reparse.worker import Reextractor

        marker = {"cascrawl": cascrawl.__version__}  # and the run's id, added to what is stored (_take)
        # Built here first: a setting the pipelines refuse stops the run before anything (ValueError).
        local = Reextractor(options.overrides, options.archive or Path("."), marker)
        started = self._started = time.perf_counter()
        processes = self.processes = options.processes or os.cpu_count() or 1
        # The workers start before the database is opened and the lock taken: none holds a connection or
        # the lock's file.
        pool = self._start_pool(processes, marker) if processes > 1 else None
        lock = None
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.database = Database(options.database_url).open(create=False)
            report.selected = count_selected(self.database, options.selection)
            if not options.dry_run:
                lock = RunLock(self.database).acquire()  # RunLocked: the caller says so
                report.run_id = self._start_run()
            try:
                self._process(local, pool)
            except Stop:
                report.stop_signal = self._stop
                logger.warning("stopped by %s after %d of %d articles: what was finished is stored; run "
                               "`cascrawl reparse` again to go on", signal.Signals(self._stop).name,
                               report.examined, report.selected)
            except Exception as error:  # the database refused or went away: the run says so
                if options.dry_run or report.run_id is None:
                    raise
                self._failure = self.database.error_line(error)
                logger.error("storing failed: %s", self._failure)
            report.seconds = time.perf_counter() - started
            self._conclude()
            if report.run_id is not None:
                self._finish_run()
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if lock is not None:
                lock.release()
            if self.database is not None:
                self.database.close()
        return report

    def _on_signal(self, signum, frame) -> None:
        if self._stop is None:
            self._stop = signum
            logger.warning("%s received: stopping once the articles being parsed are written",
                           signal.Signals(signum).name)

    def _start_pool(self, processes: int, marker: dict[str, Any]):
        import multiprocessing

        from cascrawl.reparse.worker import start_worker

        # Forked where the system can (this process has imported the parsers and pipelines already: a
        # spawned worker takes seconds to import them again); each worker sets its own signal handling.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        return multiprocessing.get_context(method).Pool(
            processes, initializer=start_worker, initargs=(self.options.overrides, str(self.options.archive or "."),
                                                           marker))

    def _process(self, local, pool) -> None:
        if self.options.archive is None:
            logger.warning("the WARC archive is off (CASCRAWL_WARC=False or CASCRAWL_WARC_DIR empty): "
                           "no article can be re-extracted")
        pages = self._pages()
        if pool is None:
            for rows in pages:
                self._take(rows, [local.safely(row) for row in rows])
            return
        from cascrawl.reparse.worker import ready, work

        processes = self.processes
        self._wait(pool.map_async(ready, range(processes), chunksize=1))  # the workers have started
        self.report.startup_seconds = time.perf_counter() - self._started
        chunk = max(1, PAGE_ROWS // (processes * 4))
        waiting = None  # (rows, AsyncResult): the page the workers are on while the previous one is written
        for rows in pages:
            submitted = (rows, pool.map_async(work, rows, chunksize=chunk))
            if waiting is not None:
                self._take(waiting[0], self._wait(waiting[1]))
            waiting = submitted
        if waiting is not None:
            self._take(waiting[0], self._wait(waiting[1]))

    def _wait(self, result) -> list[Outcome]:
        while True:
            if self._stop is not None:
                raise Stop()
            try:
                return result.get(timeout=0.2)
            except multiprocessing_timeout():
                continue

    def _pages(self):
        after = 0
        while True:
            if self._stop is not None:
                raise Stop()
            rows = selected_rows(self.database, self.options.selection, after_id=after, limit=PAGE_ROWS)
            if not rows:
                return
            after = rows[-1]["id"]
            yield rows

    def _take(self, rows: list[dict[str, Any]], outcomes: list[Outcome]) -> None:
        """One page's outcomes counted, and its changed rows written (one transaction)."""
        stats, report = self.report.stats, self.report
        stored = {row["id"]: row for row in rows}
        changed = []
        for outcome in outcomes:
            stats[stats_keys.REPARSE_EXAMINED] += 1
            for key, value in outcome.stats.items():  # what the spider and the pipelines counted, as in a crawl
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    stats[key] += value
            if outcome.kind == "skipped":
                stats[stats_keys.REPARSE_SKIPPED] += 1
                stats[stats_keys.reparse_skipped(outcome.reason)] += 1
                if outcome.reason != REPARSE_NOT_ARCHIVED:
                    self._warn(stored[outcome.article_id]["url"], outcome)
                continue
            if outcome.kind == "unchanged":
                stats[stats_keys.REPARSE_UNCHANGED] += 1
                continue
            stats[stats_keys.REPARSE_CHANGED] += 1
            stats[stats_keys.reparse_template(outcome.template)] += 1
            for name in outcome.fields:
                stats[stats_keys.reparse_changed(name)] += 1
            if report.run_id is not None:
                outcome.row["provenance"][PROVENANCE_KEY]["run"] = report.run_id
            changed.append(outcome.row)
            if len(report.examples) < self.options.examples:
                report.examples.append(Example(outcome.row["url"], outcome.template, outcome.fields,
                                               stored[outcome.article_id], outcome.row))
        if changed and not self.options.dry_run:
            result = self.database.upsert_articles(changed, seen_at=datetime.now(timezone.utc),
                                                   run_id=report.run_id, seen=False)
            for key, count in ((stats_keys.ARTICLES_REVISED, result.revised),
                               (stats_keys.ARTICLES_REFRESHED, result.refreshed),
                               (stats_keys.ARTICLES_INSERTED, result.inserted),
                               (stats_keys.ARTICLES_REFUSED, len(result.rejected))):
                if count:
                    stats[key] += count
            logger.info("stored %d re-extracted articles (%d revised, %d refreshed)", result.stored, result.revised,
                        result.refreshed)
        self._beat()

    def _warn(self, url: str, outcome: Outcome) -> None:
        """A skipped article, in the log: the first few of each reason by URL, then only counted."""
        logged = self._warned[outcome.reason] = self._warned[outcome.reason] + 1
        if logged <= WARN_EACH:
            logger.warning("%s not re-extracted (%s): %s", url, outcome.reason, outcome.detail)
        elif logged == WARN_EACH + 1:
            logger.warning("more articles not re-extracted (%s): counted in the run's stats, not listed",
                           outcome.reason)

    # --- the run's record ---

    def _start_run(self) -> int:
        from cascrawl.db.runs import interrupt_stale_runs
        from cascrawl.run.snapshot import json_safe

        options = self.options
        selection = options.selection
        settings = {
            RUN_KIND_SETTING: RUN_KIND,
            "cascrawl_version": cascrawl.__version__,
            "overrides": options.overrides,
            "filters": {"sections": list(selection.sections), "since": selection.since, "until": selection.until,
                        "template": selection.template},
            "processes": options.processes or os.cpu_count() or 1,
            "archive": str(options.archive) if options.archive else None,
        }
        run_id = self.database.start_run(base_url=None, sections=list(selection.sections), settings=json_safe(settings))
        interrupted = interrupt_stale_runs(self.database, run_id)
        if interrupted:
            logger.warning("%d earlier run(s) ended without closing (killed?): marked interrupted", interrupted)
        return run_id

    def _beat(self) -> None:
        if self.report.run_id is None or not self.options.heartbeat_seconds:
            return
        now = time.monotonic()
        if now - self._last_beat < self.options.heartbeat_seconds:
            return
        self._last_beat = now
        from cascrawl.db.runs import beat

        try:
            beat(self.database, self.report.run_id, {**self.report.stats, "interval": self.options.heartbeat_seconds})
        except Exception as error:  # a missed heartbeat is no reason to stop
            logger.debug("heartbeat: %s", error)

    def _conclude(self) -> None:
        """The run's status, reason, problems and exit code: the verdict's (cascrawl/run/verdict.py)."""
        report, stats = self.report, self.report.stats
        stats[SECONDS] = round(report.seconds, 3)
        stats[STARTUP_SECONDS] = round(report.startup_seconds, 3)
        if report.rate:
            stats[RATE] = round(report.rate, 1)
        verdict = reparse_verdict(dict(stats), failure=self._failure, stop_signal=report.stop_signal)
        report.status, report.reason, report.exit_code = verdict.status, verdict.reason, verdict.exit_code
        report.problems = list(verdict.problems)

    def _finish_run(self) -> None:
        from cascrawl.health import coverage_record
        from cascrawl.run.snapshot import json_safe

        report = self.report
        stats = {**report.stats, stats_keys.FINISH_REASON: report.reason, stats_keys.VERDICT_PROBLEMS: report.problems}
        if report.stats[stats_keys.REPARSE_CHANGED] and report.status != "failed":
            try:
                self.database.sync_search()  # changed texts noted for the full-text index
            except Exception as error:
                logger.warning("could not update the full-text index: %s", self.database.error_line(error))
        try:
            self.database.finish_run(report.run_id, status=report.status, reason=report.reason[:100],
                                     stats=json_safe(stats), coverage=coverage_record(stats))
        except Exception as error:
            logger.error("could not record the end of reparse run %s: %s", report.run_id,
                         self.database.error_line(error))
            report.status, report.reason, report.exit_code = "failed", "could not record the end of the run", 1


def multiprocessing_timeout():
    import multiprocessing

    return multiprocessing.TimeoutError
