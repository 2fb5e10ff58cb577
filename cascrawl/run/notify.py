"""Notifications of runs that did not finish cleanly, an extension (EXTENSIONS in cascrawl/settings.py): a JSON
summary POSTed to CASCRAWL_NOTIFY_URL (its `text` readable as a Slack / Matrix message) and/or piped to
CASCRAWL_NOTIFY_COMMAND, retried with back-off within CASCRAWL_NOTIFY_TIMEOUT seconds, and what was sent
written into the run's stats under `cascrawl/notify` (an UPDATE of its `crawl_runs` row).

Connected to `cascrawl.run.record.run_recorded`, sent once the run's row is written; a run killed without
closing is notified by the first to find it dead: `cascrawl health` or `cascrawl serve` (cascrawl/run/watch.py,
with `send_blocking`), else the next crawl, which marks it `interrupted` as it starts. A run is notified once:
each claims it first (crawl_runs.notified_at). The sending runs in
threads (the reactor keeps turning); nothing here can fail the crawl or change its exit code. The summary
and the retry schedule are pure functions (tested alone). Imports cascrawl.db's models and cascrawl.run.record.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from sqlalchemy import select
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from cascrawl import stats_keys
from cascrawl.db import CrawlRun, runs
from cascrawl.run.record import RunRecord, run_recorded

logger = logging.getLogger(__name__)

NOTIFIED = "cascrawl/notify"  # in a run's stored stats: what was sent about it
ALERT_STATUSES = ("degraded", "failed", "interrupted")
RECOVERED = "recovered"  # the event of a finished run after one that was not (CASCRAWL_NOTIFY_RECOVERY)
# The counts a summary carries: its name -> the stats key.
COUNTS = {
    "articles_inserted": stats_keys.ARTICLES_INSERTED, "articles_revised": stats_keys.ARTICLES_REVISED,
    "articles_unchanged": stats_keys.ARTICLES_UNCHANGED, "articles_lost": stats_keys.ARTICLES_LOST,
    "articles_spooled": stats_keys.ARTICLES_SPOOLED, "article_pages": stats_keys.COVERAGE_PAGES,
    "listing_pages": stats_keys.LISTING_PAGES, "requests": stats_keys.REQUEST_COUNT,
}


# --- pure: what to say, when, and how often to try ---

def event_of(status: str, previous_status: str | None, recovery: bool) -> str | None:
    """What a run with this status is worth a notification as: its status when it is an alert, `recovered`
    for a finished run after one that was not (only with `recovery`), else None (nothing to send)."""
    if status in ALERT_STATUSES:
        return status
    if recovery and status == "finished" and previous_status not in (None, "finished"):
        return RECOVERED
    return None


def problem_list(problems: Iterable[Any] | None) -> list[dict[str, Any]]:
    """The run's problems as `{"code", "names", "text"}` (the shared contract); a problem known only by its
    text (a run stored before the codes) keeps its text and gets no code."""
    listed = []
    for problem in problems or []:
        if isinstance(problem, dict):
            listed.append({"code": problem.get("code") or "", "names": list(problem.get("names") or []),
                           "text": problem.get("text") or ""})
        else:
            listed.append({"code": "", "names": [], "text": str(problem)})
    return listed


def _iso(moment: Any) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)  # stored in UTC without a zone
        return moment.isoformat()
    return str(moment)


def summary(run: dict[str, Any], event: str, problems: Iterable[Any] | None = None,
            previous_status: str | None = None) -> dict[str, Any]:
    """The JSON sent about a run: `text` (one message for a chat room) and the structured fields. `run`: the
    run's row (id, status, reason, base_url, sections, started_at, finished_at, stats)."""
    stats = run.get("stats") or {}
    listed = problem_list(problems)
    counts = {name: stats[key] for name, key in COUNTS.items() if isinstance(stats.get(key), (int, float))}
    status, reason = run.get("status") or "", run.get("reason") or ""
    if event == RECOVERED:
        head = f"cascrawl run {run.get('id')} finished: recovered (the run before was {previous_status})"
    else:
        head = f"cascrawl run {run.get('id')} {status}" + (f": {reason}" if reason and reason != "finished" else "")
    lines = [head]
    for problem in listed:
        names = f" ({', '.join(problem['names'])})" if problem["names"] else ""
        lines.append(f"- {problem['code'] or 'problem'}{names}: {problem['text']}".rstrip(": "))
    stored = counts.get("articles_inserted", 0) + counts.get("articles_revised", 0)
    lines.append(f"{stored} articles stored, {counts.get('article_pages', 0)} article pages, "
                 f"{counts.get('listing_pages', 0)} listing pages; {run.get('base_url') or ''} "
                 f"[{', '.join(run.get('sections') or [])}]")
    return {
        "text": "\n".join(lines), "event": event, "run_id": run.get("id"), "status": status, "reason": reason,
        "previous_status": previous_status, "problems": listed, "counts": counts, "base_url": run.get("base_url"),
        "sections": list(run.get("sections") or []), "started_at": _iso(run.get("started_at")),
        "finished_at": _iso(run.get("finished_at")),
    }


def retry_delays(tries: int, backoff: float, budget: float) -> list[float]:
    """The waits before the 2nd, 3rd, … try: `backoff`, 2 x, 4 x …, as many as `tries` allows, and no more
    than fit in `budget` seconds all together (the tries themselves are bounded by the same budget)."""
    delays, total = [], 0.0
    for attempt in range(max(0, tries - 1)):
        delay = backoff * 2 ** attempt
        if total + delay > budget:
            break
        delays.append(delay)
        total += delay
    return delays


# --- sending one try (in a thread) ---

def post_json(url: str, body: bytes, timeout: float) -> tuple[bool, int | None, str | None]:
    """(ok, HTTP status, error) of one POST of the summary."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "cascrawl-notify"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300, response.status, None
    except urllib.error.HTTPError as error:
        return False, error.code, f"HTTP {error.code}"
    except Exception as error:  # refused, timed out, bad URL: the next try, or the record says why
        return False, None, f"{type(error).__name__}: {error}"[:300]


def pipe_to_command(command: str, body: bytes, timeout: float) -> tuple[bool, int | None, str | None]:
    """(ok, exit code, error) of one run of the shell command with the summary on stdin; killed (its whole
    process group) when it outlasts `timeout`."""
    process = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = process.communicate(body, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return False, None, f"timed out after {timeout:g} s"
    except BrokenPipeError:  # the command did not read its stdin
        process.wait()
        err = b""
    error = err.decode("utf-8", "replace").strip()[-300:] or None
    return process.returncode == 0, process.returncode, None if process.returncode == 0 else (error or f"exit {process.returncode}")


def shown_target(url: str) -> str:
    """A webhook's URL as recorded: scheme and host only (a Slack or Matrix hook's path is its secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':%d' % parts.port if parts.port else ''}/…"


@dataclass(frozen=True)
class Targets:
    """Where notifications go and how hard to try: CASCRAWL_NOTIFY_* of a Scrapy Settings (`of(settings)`)."""

    url: str
    command: str
    recovery: bool
    budget: float  # seconds all tries of one target may take together
    tries: int
    backoff: float

    @classmethod
    def of(cls, settings) -> Targets:
        return cls(settings.get("CASCRAWL_NOTIFY_URL") or "", settings.get("CASCRAWL_NOTIFY_COMMAND") or "",
                   settings.getbool("CASCRAWL_NOTIFY_RECOVERY"), max(0.1, settings.getfloat("CASCRAWL_NOTIFY_TIMEOUT")),
                   max(1, settings.getint("CASCRAWL_NOTIFY_TRIES")), max(0.0, settings.getfloat("CASCRAWL_NOTIFY_BACKOFF")))

    @property
    def configured(self) -> bool:
        return bool(self.url or self.command)

    def tries_of(self, message: dict[str, Any]) -> list[tuple[str, str, Callable[[float], tuple]]]:
        """(target, as recorded, one try given the seconds left) for each configured target."""
        body = json.dumps(message, ensure_ascii=False, default=str).encode("utf-8")
        found = []
        if self.url:
            found.append(("webhook", shown_target(self.url), lambda left: post_json(self.url, body, left)))
        if self.command:
            found.append(("command", self.command, lambda left: pipe_to_command(self.command, body, left)))
        return found


def delivery(target: str, shown: str, attempts: int, ok: bool, code: int | None, error: str | None) -> dict[str, Any]:
    """The record of one target's delivery, as stored under `cascrawl/notify`."""
    return {"target": target, "to": shown, "ok": ok, "attempts": attempts,
            ("http_status" if target == "webhook" else "exit_code"): code, "error": error,
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def send_blocking(targets: Targets, message: dict[str, Any], sleep: Callable[[float], None] = time.sleep) -> list[dict]:
    """Every target told of `message`, retried with back-off within the budget, in this thread (outside a
    crawl: `cascrawl health`, `cascrawl serve`'s watch); what was sent, one record per target."""
    sent = []
    for target, shown, once in targets.tries_of(message):
        deadline = time.monotonic() + targets.budget
        delays = retry_delays(targets.tries, targets.backoff, targets.budget)
        attempts = 0
        while True:
            attempts += 1
            ok, code, error = once(max(0.1, deadline - time.monotonic()))
            if ok or attempts > len(delays):
                break
            wait = delays[attempts - 1]
            if time.monotonic() + wait >= deadline:
                error = f"{error}; gave up: {targets.budget:g} s spent"
                break
            sleep(wait)
        sent.append(delivery(target, shown, attempts, ok, code, error))
    _log_sent(message, sent)
    return sent


def _log_sent(message: dict[str, Any], sent: list[dict]) -> None:
    for record in sent:
        log = logger.info if record["ok"] else logger.warning
        log("notification of run %s (%s) by %s: %s after %d attempt(s)%s", message["run_id"], message["event"],
            record["target"], "sent" if record["ok"] else "NOT sent", record["attempts"],
            f" ({record['error']})" if record["error"] else "")


class Notify:
    def __init__(self, crawler):
        self.crawler = crawler
        self.targets = Targets.of(crawler.settings)
        if not self.targets.configured:
            raise NotConfigured("no CASCRAWL_NOTIFY_URL or CASCRAWL_NOTIFY_COMMAND")
        self.url, self.command, self.recovery = self.targets.url, self.targets.command, self.targets.recovery
        self.budget, self.tries, self.backoff = self.targets.budget, self.targets.tries, self.targets.backoff
        self._earlier = None  # the notifying of runs found interrupted at the start (a Deferred)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.run_recorded, signal=run_recorded)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _database(self):
        """The run record's database and run id; (None, None) before it opened, or without a run record."""
        record = self.crawler.get_extension(RunRecord)
        return (None, None) if record is None else (record.database, record.run_id)

    def spider_opened(self) -> None:
        """Runs killed before this one (marked interrupted as it started) are notified beside the crawl."""
        database, run_id = self._database()
        if database is not None and run_id is not None:
            self._earlier = deferred_from_coro(self._notify_interrupted(database, run_id))

    async def run_recorded(self, run_id: int, status: str, reason: str, problems=None, stats=None, **_) -> None:
        database, _ = self._database()
        if database is None:
            return
        try:
            if self._earlier is None:  # the record opened after this extension's spider_opened
                await self._notify_interrupted(database, run_id)
            else:
                await maybe_deferred_to_future(self._earlier)
            previous = await maybe_deferred_to_future(deferToThread(self._previous_status, database, run_id))
            event = event_of(status, previous, self.recovery)
            if event is None:
                return
            run = await maybe_deferred_to_future(deferToThread(self._run_row, database, run_id))
            run = {**(run or {"id": run_id, "stats": stats}), "status": status, "reason": reason}
            await self._send(database, summary(run, event, problems, previous))
        except Exception:  # a notification never fails the run
            logger.exception("notifying the end of run %s failed", run_id)

    async def _notify_interrupted(self, database, run_id: int) -> None:
        try:
            runs = await maybe_deferred_to_future(deferToThread(self._unnotified_interrupted, database, run_id))
            for run in runs:
                problems = [{"code": "interrupted", "names": [], "text": run.get("reason") or "interrupted"}]
                await self._send(database, summary(run, "interrupted", problems))
        except Exception:
            logger.exception("notifying interrupted runs failed")

    async def _send(self, database, message: dict[str, Any]) -> None:
        """Once per run: whoever claims its notification first (this crawl, `cascrawl health`, `serve`) sends it."""
        if not await maybe_deferred_to_future(deferToThread(runs.claim_notification, database, message["run_id"])):
            logger.debug("run %s was notified already", message["run_id"])
            return
        sent = [await self._deliver(target, shown, once) for target, shown, once in self.targets.tries_of(message)]
        _log_sent(message, sent)
        await maybe_deferred_to_future(deferToThread(runs.record_notification, database, message["run_id"], NOTIFIED,
                                                     {"event": message["event"], "sent": sent}))

    async def _deliver(self, target: str, shown: str, once: Callable[[float], tuple]) -> dict[str, Any]:
        """Try `once(seconds left)` until it succeeds, the tries are spent or the time budget is."""
        deadline = time.monotonic() + self.budget
        delays = retry_delays(self.tries, self.backoff, self.budget)
        attempts, ok, code, error = 0, False, None, None
        while True:
            attempts += 1
            left = max(0.1, deadline - time.monotonic())
            ok, code, error = await maybe_deferred_to_future(deferToThread(once, left))
            if ok or attempts > len(delays):
                break
            wait = delays[attempts - 1]
            if time.monotonic() + wait >= deadline:
                error = f"{error}; gave up: {self.budget:g} s spent"
                break
            from twisted.internet import reactor  # the one the crawl installed

            await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
        return delivery(target, shown, attempts, ok, code, error)

    # --- the database (a thread of the reactor's pool) ---

    @staticmethod
    def _previous_status(database, run_id: int) -> str | None:
        table = CrawlRun.__table__
        with database.engine.connect() as connection:
            return connection.execute(select(table.c.status).where(table.c.id < run_id, table.c.status != "running")
                                      .order_by(table.c.id.desc()).limit(1)).scalar()

    @staticmethod
    def _run_row(database, run_id: int) -> dict[str, Any] | None:
        table = CrawlRun.__table__
        with database.engine.connect() as connection:
            row = connection.execute(select(table).where(table.c.id == run_id)).mappings().first()
            return dict(row) if row is not None else None

    @staticmethod
    def _unnotified_interrupted(database, run_id: int) -> list[dict[str, Any]]:
        """The interrupted runs just before this one (after the last run that ended otherwise) that were
        never notified: those this crawl's start marked, not every one an old database holds."""
        table = CrawlRun.__table__
        with database.engine.connect() as connection:
            last_closed = connection.execute(
                select(table.c.id).where(table.c.id < run_id, table.c.status.not_in(("running", "interrupted")))
                .order_by(table.c.id.desc()).limit(1)).scalar() or 0
            rows = connection.execute(select(table).where(table.c.id < run_id, table.c.id > last_closed,
                                                          table.c.status == "interrupted").order_by(table.c.id)).mappings()
            return [dict(row) for row in rows if NOTIFIED not in (row["stats"] or {}) and row["notified_at"] is None]
