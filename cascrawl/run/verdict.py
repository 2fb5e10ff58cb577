"""The verdict on a run, in one place: the status and reason its record stores, the problems shown for it
(`runs show`, the API, the operator page), the headline of its summary and the exit code of `cascrawl crawl`.
Each problem is an entry {code, names, text} (cascrawl.health.problem): the run record stores the verdict's
under `cascrawl/verdict/problems` in the run's stats, and every reader reads them back (`recorded_problems`).

Pure functions of the crawler's stats (`verdict`) or of a stored run record (`recorded_problems`); the rules
that decide how a run went live here and nowhere else. Imports only cascrawl.health (the wording of its
problems).
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cascrawl import stats_keys
from cascrawl.health import UNREAD_LISTING, problem, unread_section

FINISHED, DEGRADED, STOPPED, FAILED, RUNNING = "finished", "degraded", "stopped", "failed", "running"
INTERRUPTED = "interrupted"

# Problems that come from the end-of-run health check (cascrawl/health.py): what the summary calls alarms.
HEALTH_CODES = ("layout_alarm", "listing_pages_unread", "section_empty")
# What each code makes of a run, for the headline "degraded (…)".
CAUSES = {"layout_alarm": "layout alarm", "section_empty": "layout alarm", "listing_pages_unread": "listing pages not read",
          "listing_fetch_failed": "listing pages not read", "section_missing": "sections missing",
          "section_failed": "sections not fetched", "spider_errors": "spider exceptions",
          "articles_refused": "articles refused", "storage_failed": "storage failed", "worker_lost": "worker lost",
          "archive_gap": "archive gap"}


@dataclass(frozen=True)
class Verdict:
    status: str  # what the run record stores: finished | degraded | stopped | failed
    reason: str  # why, as stored (the crawl's finish reason, or why storing failed)
    problems: tuple[dict, ...]  # {code, names, text} each: what the run stores under cascrawl/verdict/problems
    exit_code: int  # of `cascrawl crawl`: 0 ok, 2 degraded, 1 failed, 128 + signal when stopped
    headline: str  # the summary's word for it: ok, failed, stopped, degraded (…)

    @property
    def proves_walks(self) -> bool:
        """Only a run that ended by itself with everything written can prove a section's walk complete."""
        return self.status in (FINISHED, DEGRADED)

    @property
    def texts(self) -> list[str]:
        return [found["text"] for found in self.problems]

    @property
    def alarms(self) -> list[str]:
        """The health check's problems (layout alarms, listing pages not read), in words."""
        return [found["text"] for found in self.problems if found["code"] in HEALTH_CODES]


def health_status(problems: Iterable[str]) -> str:
    """`cascrawl/health/status`: degraded when the health check found any problem."""
    return DEGRADED if list(problems) else "ok"


def site_unreachable(stats: dict) -> bool:
    """No listing page answered and fetching them failed, and nothing answered at all (a 503 is an answer:
    the site is there, and the run is degraded, not unreachable): the site is not there."""
    answered = _count(stats, stats_keys.LISTING_PAGES) + _count(stats, stats_keys.SECTIONS_MISSING)
    return (answered == 0 and _count(stats, stats_keys.LISTING_FETCH_FAILED) > 0
            and _count(stats, "downloader/response_count") == 0)


def verdict(stats: dict, reason: str | None = None, failure: str | None = None, *, stop_signal: int | None = None,
            stopped_at_once: bool = False) -> Verdict:
    """How the run went, from its stats. `reason`: why the crawl closed (default the stats' finish_reason);
    `failure`: why storing failed, if it did (the persist pipeline's short text); `stop_signal` and
    `stopped_at_once`: the SIGTERM / SIGINT that stopped it, and whether a second one stopped it at once."""
    if reason is None:
        reason = stats.get(stats_keys.FINISH_REASON)
    failure = failure or storage_failure(stats)
    problems = run_problems(stats, failure)
    unreachable = site_unreachable(stats) and not failure
    if failure:
        status, why = FAILED, failure
    elif stats.get(stats_keys.RUN_LOCKED):  # refused at its start: another run, a database that stayed locked
        status, why = FAILED, str(stats.get(stats_keys.RUN_LOCKED))
    elif stats.get(stats_keys.REDIS_STOPPED) and reason in ("finished", None):  # Redis away: not done
        redis = stats.get(stats_keys.REDIS_STOPPED)
        status, why = STOPPED, redis if isinstance(redis, str) else "redis_outage"
    elif unreachable and reason == "finished":
        status, why = FAILED, f"site unreachable: {stats.get(stats_keys.FIRST_FETCH_ERROR) or 'no response'}"
    else:
        status, why = (FINISHED if reason == "finished" else STOPPED), reason or ""
        if status == FINISHED and problems:
            status = DEGRADED  # missing content, a layout alarm, storage trouble (run_problems)
    code = _exit_code(stats, status, reason, stop_signal, stopped_at_once)
    headline = {0: "ok", 2: DEGRADED, 1: "failed"}.get(code, "stopped")
    if stopped_at_once and code != 1:
        headline = "stopped at once"
    if code == 2 or (status == STOPPED and code != 1 and any(p["code"] in HEALTH_CODES for p in problems)):
        headline = f"degraded ({causes_of(problems)})"
    return Verdict(status, why, tuple(problems), code, headline)


def storage_failure(stats: dict) -> str | None:
    """Why storing failed, from the stats (the persist pipeline's `cascrawl/db/failure`, or articles lost:
    neither stored nor kept anywhere), or None: what makes a run `failed`, exit 1, whoever judges it."""
    failure = stats.get("cascrawl/db/failure")
    if failure:
        return str(failure)
    lost = _count(stats, stats_keys.ARTICLES_LOST)
    return f"{lost} article(s) lost: the database failed" if lost else None


def causes_of(problems: Iterable[dict]) -> str:
    """`layout alarm`, `listing pages not read`, `sections missing`, …: what made a run degraded."""
    causes: list[str] = []
    for found in problems:
        cause = CAUSES.get(found["code"], found["code"].replace("_", " "))
        if cause not in causes:
            causes.append(cause)
    order = list(dict.fromkeys(CAUSES.values()))
    return "; ".join(sorted(causes, key=lambda cause: order.index(cause) if cause in order else len(order)))


def run_problems(stats: dict, failure: str | None = None) -> list[dict]:
    """The problems of a run, from its stats: {code, names, text} each (cascrawl.health.problem)."""
    found: list[dict] = []
    if failure:
        found.append(problem("storage_failed", [failure], f"storing failed: {failure}"))
    if site_unreachable(stats):
        error = stats.get(stats_keys.FIRST_FETCH_ERROR) or "no response"
        found.append(problem("site_unreachable", [error], f"site unreachable: no listing page could be fetched ({error})"))
    missing = _names(stats, stats_keys.SECTIONS_MISSING_NAMES)
    if _count(stats, stats_keys.SECTIONS_MISSING) or missing:
        count = max(_count(stats, stats_keys.SECTIONS_MISSING), len(missing))
        found.append(problem("section_missing", missing, f"{count} section(s) answered 404"
                             + (f" or 410: {', '.join(missing)}" if missing else "")))
    failed = _names(stats, stats_keys.SECTIONS_FAILED_NAMES)
    if failed and not site_unreachable(stats):
        found.append(problem("section_failed", failed, f"{len(failed)} section(s) could not be fetched after "
                             f"retries: {', '.join(failed)}"))
    findings = stats.get(stats_keys.HEALTH_FINDINGS)
    if isinstance(findings, list) and all(isinstance(entry, dict) for entry in findings):
        health = [problem(str(entry.get("code")), entry.get("names") or [], str(entry.get("text"))) for entry in findings]
    else:  # stats of a health check that kept its problems in words only
        health = [_health_problem(line) for line in stats.get(stats_keys.HEALTH_PROBLEMS) or []]
    if not site_unreachable(stats):
        found.extend(health)
        fetch_failed = _count(stats, stats_keys.LISTING_FETCH_FAILED)
        if fetch_failed and not any(entry["code"] == "listing_pages_unread" for entry in health):
            found.append(problem("listing_fetch_failed", [], f"{fetch_failed} listing page(s) could not be fetched"))
    exceptions = _count(stats, "spider_exceptions/count")
    if exceptions:
        kinds = sorted(key.rsplit("/", 1)[1] for key in stats if key.startswith("spider_exceptions/") and key != "spider_exceptions/count")
        found.append(problem("spider_errors", kinds, f"{exceptions} spider exception(s)"))
    for key, code, meaning in (
            (stats_keys.ARTICLES_LOST, "storage_failed", "article(s) lost: the database failed"),
            (stats_keys.ARTICLES_SPOOLED, "articles_spooled", "article(s) kept in the spool: the database stayed away (the next run writes them)"),
            (stats_keys.ARTICLES_REFUSED, "articles_refused", "article(s) refused by the database"),
            (stats_keys.WARC_GAPS, "archive_gap", "response(s) not archived: the WARC archive could not be written")):
        text = f"{_count(stats, key)} {meaning}"
        if _count(stats, key) and text != failure:  # articles lost and nothing else: said once, as the failure
            found.append(problem(code, [key.rsplit("/", 1)[1]], text))
    return found


def _health_problem(line: str) -> dict:
    line = str(line)
    if line.startswith(UNREAD_LISTING):
        return problem("listing_pages_unread", [unread_section(line[len(UNREAD_LISTING) + 2:])], line)
    if line.startswith("section ") and " listed no articles" in line:
        return problem("section_empty", [line.split()[1]], line)
    return problem("layout_alarm", [line.split()[0]] if line else [], line)


def _names(stats: dict, key: str) -> list[str]:
    value = stats.get(key)
    return sorted({str(name) for name in value}) if isinstance(value, (list, tuple)) else []


def shared_run_verdict(status: str, reason: str, queued: int, workers: list[dict[str, Any]],
                       gave_up: list[str]) -> tuple[str, str, bool]:
    """(status, reason, done) of a distributed run closed by its last worker, from that worker's own status
    and reason, the requests left in the shared queue, the workers' rows and the workers that gave up on
    Redis. Done (the walks may be recorded complete) only with the queue empty and the closing worker
    finished; a worker's degraded health or status degrades the run, and so does a worker that died
    (its row interrupted) or failed; requests left stop it; a worker that lost Redis dropped the requests it held
    for Redis, so the run is degraded and its listings walked again."""
    done = queued == 0 and status in (FINISHED, DEGRADED)
    if done and any((row.get("stats") or {}).get(stats_keys.HEALTH_STATUS) == DEGRADED or row.get("status") == DEGRADED
                    for row in workers):
        status = DEGRADED
    lost = lost_workers(workers)
    if done and lost and status == FINISHED:
        status, reason = DEGRADED, f"worker {', '.join(lost)} died (interrupted)"
    failed = sorted(str(row["worker"]) for row in workers if row.get("status") == FAILED)
    if done and failed and status == FINISHED:  # the others went on: what it could not store is its spool's
        status, reason = DEGRADED, f"worker {', '.join(failed)} failed"
    if not done and status in (FINISHED, DEGRADED):
        status, reason = STOPPED, f"{queued} requests left in the shared queue"
    if gave_up and done and status == FINISHED:
        status, reason = DEGRADED, f"worker {', '.join(gave_up)} lost Redis: listings walked again next run"
    return status, reason, done


def lost_workers(workers: list[dict[str, Any]]) -> list[str]:
    """The workers of a distributed run whose row was left running: they died (marked interrupted)."""
    return sorted(str(row["worker"]) for row in workers if row.get("status") == INTERRUPTED)


def shared_run_problems(workers: list[dict[str, Any]], own: Iterable[dict], queued: int, gave_up: list[str]) -> list[dict]:
    """The problems of a distributed run: every worker's own (from its row's stats, or this worker's), one
    entry per code with the names merged, plus the workers that died, the ones that lost Redis, and the
    requests left in the shared queue."""
    merged: dict[tuple[str, str], dict] = {}
    rows = [list((row.get("stats") or {}).get(stats_keys.VERDICT_PROBLEMS) or []) for row in workers]
    for entry in [*own, *(entry for found in rows for entry in found)]:
        if not isinstance(entry, dict):
            continue
        key = (str(entry.get("code")), str(entry.get("text")))
        merged.setdefault(key, problem(key[0], entry.get("names") or [], key[1]))
    found = list(merged.values())
    lost = lost_workers(workers)
    if lost:
        found.append(problem("worker_lost", lost, f"worker(s) died before the end of the run: {', '.join(lost)}"))
    if gave_up:
        found.append(problem("redis_lost", gave_up, f"worker(s) lost Redis: {', '.join(gave_up)}; listings walked again next run"))
    if queued:
        found.append(problem("requests_left", [], f"{queued} requests left in the shared queue"))
    return found


def _count(stats: dict, key: str) -> int:
    try:
        return int((stats or {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0


def _exit_code(stats: dict, status: str, reason: str | None, stop_signal: int | None, stopped_at_once: bool) -> int:
    """The exit code says what the stored status says: 0 finished, 2 degraded, 1 failed; a stopped run 128 +
    the signal when a signal stopped it, else 1 (a lock refused, Redis away, a timeout: not done)."""
    if status == FAILED or stats.get(stats_keys.RUN_LOCKED) or stats.get(stats_keys.REDIS_STOPPED):
        return 1
    if reason == "shutdown" or stopped_at_once:
        return 128 + (stop_signal or signal.SIGTERM)
    return {FINISHED: 0, DEGRADED: 2}.get(status, 1)


# Stats that make a stored run degraded, with what each means.
RUN_PROBLEMS = (
    (stats_keys.LISTING_FETCH_FAILED, "listing page(s) could not be fetched"),
    (stats_keys.SECTIONS_MISSING, "section(s) answered 404"),
    ("spider_exceptions/count", "spider exception(s)"),
    (stats_keys.ARTICLES_LOST, "article(s) lost: the database failed"),
    (stats_keys.ARTICLES_SPOOLED, "article(s) kept in the spool: the database stayed away (the next run writes them)"),
    (stats_keys.ARTICLES_REFUSED, "article(s) refused by the database"),
    ("log_count/ERROR", "error(s) logged"),
)


RECORDED = "recorded"  # the code of a problem of a run stored before problems had codes (its words only)


def recorded_problem_entries(run: dict[str, Any]) -> list[dict]:
    """A stored run's problems as entries {code, names, text}: the one reader of them, for `runs`,
    `runs show`, the API, the operator page, /healthz, `cascrawl health` and the notification of a killed run.
    The verdict's, as the run record stored them (`cascrawl/verdict/problems` in its stats), after a line
    for a status that is not a clean end (stopped, failed, interrupted) when the verdict did not say it;
    for a run stored before that, today's text rules (`_old_recorded_problems`), each with the code
    `recorded`."""
    stats = run.get("stats") or {}
    stored = stats.get(stats_keys.VERDICT_PROBLEMS)
    if not isinstance(stored, list):  # a run stored before codes, or never closed (killed: read interrupted)
        found = [problem(RECORDED, [], line) for line in _old_recorded_problems(run)]
        if run.get("status") == INTERRUPTED and found:
            found[0] = problem(INTERRUPTED, [], found[0]["text"])
        return found
    found = [problem(str(entry.get("code") or RECORDED), entry.get("names") or [],
                     str(entry.get("text") or entry.get("code") or ""))
             for entry in stored if isinstance(entry, dict)]
    status = run.get("status")
    incomplete = stats.get(stats_keys.WALKS_INCOMPLETE)
    if status != FINISHED and isinstance(incomplete, list) and incomplete:  # a clean run cut by --max-pages is no problem
        found.append(problem("walks_incomplete", incomplete,
                             f"not walked to the end (the next run goes on): {', '.join(map(str, incomplete))}"))
    if status == INTERRUPTED:
        found.insert(0, problem("interrupted", [], f"status interrupted: {run.get('reason') or 'the crawl ended without closing its run (killed?)'}"))
    elif status not in (FINISHED, DEGRADED, RUNNING) and not (status == FAILED and found):  # failed: found says why
        found.insert(0, problem(str(status), [], f"status {status}: {run.get('reason') or 'no reason recorded'}"))
    return found


def recorded_problems(run: dict[str, Any]) -> list[str]:
    """Why a stored run is not clean, in words; empty for a clean run (`recorded_problem_entries`' texts)."""
    return [entry["text"] for entry in recorded_problem_entries(run)]


def _old_recorded_problems(run: dict[str, Any]) -> list[str]:
    """A run stored before its verdict's problems were: from the status and the crawler's stats the record
    keeps; a `degraded` or `problems` column, once the run record has one, is taken as it is."""
    problems = []
    if run.get("status") not in (FINISHED, RUNNING):
        problems.append(f"status {run.get('status')}: {run.get('reason') or 'no reason recorded'}")
    stats = run.get("stats") or {}
    for key, meaning in RUN_PROBLEMS:
        if _count(stats, key):
            problems.append(f"{_count(stats, key)} {meaning}")
    incomplete = stats.get(stats_keys.WALKS_INCOMPLETE)
    if isinstance(incomplete, list) and incomplete:
        problems.append(f"not walked to the end (the next run goes on): {', '.join(map(str, incomplete))}")
    unread = stats.get(stats_keys.WALKS_UNREAD_PAGES)  # set by the spider: "section S: URL (reason)"
    if isinstance(unread, list):
        problems.extend(f"listing page not read: {line}" for line in unread)
    for name in ("degraded", "problems", "degraded_reasons"):
        value = run.get(name)
        if isinstance(value, list):
            problems.extend(str(item) for item in value)
        elif isinstance(value, str) and value:
            problems.append(value)
    return problems


# --- a re-extraction run (cascrawl/reparse/): its articles read back from the archive, nothing fetched ---

# Why an article was not re-extracted (stats_keys.reparse_skipped(reason)); all but REPARSE_NOT_ARCHIVED are
# problems of the run, and so is a page today's rules reject (REPARSE_REJECTED + "/" + the reject reason).
REPARSE_NOT_ARCHIVED = "not_archived"  # stored before the archive existed, or with it off: not a problem
REPARSE_UNREADABLE = "archive_unreadable"  # its file moved or pruned, its record cut short or not a response
REPARSE_TRUNCATED = "truncated_record"  # the archived body was cut at the size limit (WARC-Truncated)
REPARSE_EXTRACTION_ERROR = "extraction_error"  # a pipeline raised on the page
REPARSE_REJECTED = "rejected"
_REPARSE_SKIP_PROBLEMS = (
    (REPARSE_UNREADABLE, "archived response(s) could not be read (file missing or record cut short)"),
    (REPARSE_TRUNCATED, "archived response(s) cut at the size limit (WARC-Truncated)"),
    (REPARSE_EXTRACTION_ERROR, "page(s) on which a cleaning pipeline raised"),
)


def reparse_verdict(stats: dict, failure: str | None = None, stop_signal: int | None = None) -> Verdict:
    """How a re-extraction run went, by the crawl's rules: failed when storing failed (exit 1), stopped by
    SIGINT / SIGTERM (exit 128 + the signal), degraded with its problems named (exit 2: records that could
    not be read or were cut, pages today's rules reject, a pipeline that raised, rows the database refused),
    else finished (exit 0). The articles behind a problem were left as stored."""
    found = []
    if failure:
        found.append(problem("storage_failed", [failure], f"storing failed: {failure}"))
    for reason, meaning in _REPARSE_SKIP_PROBLEMS:
        count = _count(stats, stats_keys.reparse_skipped(reason))
        if count:
            found.append(problem(f"reparse_{reason}", [reason], f"{count} {meaning}: not re-extracted, left as stored"))
    head = stats_keys.reparse_skipped(REPARSE_REJECTED) + "/"
    rejected = {key[len(head):]: _count(stats, key) for key in sorted(stats) if key.startswith(head) and _count(stats, key)}
    if rejected:
        found.append(problem("reparse_rejected", sorted(rejected),
                             f"{sum(rejected.values())} article(s) today's rules would reject "
                             f"({', '.join(f'{name} {count}' for name, count in rejected.items())}): left as stored"))
    if _count(stats, stats_keys.ARTICLES_REFUSED):
        found.append(problem("articles_refused", ["articles_refused"],
                             f"{_count(stats, stats_keys.ARTICLES_REFUSED)} article(s) refused by the database"))
    if failure:
        return Verdict(FAILED, failure, tuple(found), 1, "failed")
    if stop_signal:
        return Verdict(STOPPED, "shutdown", tuple(found), 128 + stop_signal, "stopped")
    if found:
        return Verdict(DEGRADED, "finished", tuple(found), 2, f"degraded ({causes_of(found)})")
    return Verdict(FINISHED, "finished", (), 0, "ok")
