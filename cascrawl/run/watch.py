"""Runs found dead outside a crawl, notified without waiting for the next one: what `cascrawl health` (run by
a monitor or a timer) and `cascrawl serve` (a background check of its own) do when CASCRAWL_NOTIFY_URL or
CASCRAWL_NOTIFY_COMMAND is set.

A run recorded `running` whose heartbeat is stale while nobody holds the run lock was killed (SIGKILL, the
OOM killer, a power cut): it is recorded `interrupted` — what every reader already shows and the next crawl
would record — and notified once (the claim on crawl_runs.notified_at, which the crawl's own notifier makes
too), what was sent written with the run. These are the only writes, through their own writable connection
(the API's database refuses writes); nothing else is touched.
"""

from __future__ import annotations

import logging
import threading

from cascrawl.db import Database, reads, runs
from cascrawl.db.lock import run_lock_held
from cascrawl.run.notify import NOTIFIED, Targets, send_blocking, summary
from cascrawl.run.verdict import recorded_problem_entries

logger = logging.getLogger(__name__)

WATCH_SECONDS = 30.0  # how often `cascrawl serve` looks (a killed run reads dead 15 s after its last heartbeat)


def targets_from_settings() -> Targets:
    """CASCRAWL_NOTIFY_* as a crawl would read them: cascrawl/settings.py (the URL and command from the environment)."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("cascrawl.settings", priority="project")
    return Targets.of(settings)


def notify_dead_runs(database: Database, targets: Targets) -> list[int]:
    """Record as `interrupted` and notify (once) every run that is `running` but dead; the ids notified."""
    if not targets.configured:
        return []
    dead = [run for run in runs.running_runs(database) if runs.heartbeat_stale(run)]
    if not dead or run_lock_held(database):  # a crawl holds the lock: its run is alive, however silent
        return []
    notified = []
    for found in dead:
        runs.mark_interrupted(database, found["id"])
        if not runs.claim_notification(database, found["id"]):
            continue  # the crawl, or another watcher, has it
        run = reads.get_run(database, found["id"]) or runs.as_interrupted(found)
        message = summary(run, "interrupted", recorded_problem_entries(run))
        sent = send_blocking(targets, message)
        runs.record_notification(database, found["id"], NOTIFIED, {"event": "interrupted", "sent": sent})
        notified.append(found["id"])
    return notified


class Watch:
    """`cascrawl serve`'s background check: every `interval` seconds, `notify_dead_runs` through a writable
    connection of its own (a daemon thread; `stop()` ends it). A database away costs a warning, not the server."""

    def __init__(self, url: str, targets: Targets, interval: float):
        self.url, self.targets, self.interval = url, targets, max(0.1, interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cascrawl-notify-watch", daemon=True)

    def start(self) -> Watch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + self.targets.budget + 5)

    def _loop(self) -> None:
        database = None
        while not self._stop.is_set():
            try:
                if database is None:
                    database = Database(self.url).open(create=False)
                notify_dead_runs(database, self.targets)
            except Exception as error:
                logger.warning("watching for killed runs: %s", database.error_line(error) if database else error)
            self._stop.wait(self.interval)
        if database is not None:
            database.close()
