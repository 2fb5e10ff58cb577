"""The operator page: server-rendered HTML under /ui/ (Jinja2, autoescaped, no JavaScript).

The overview answers "is it healthy?" first: the verdict /healthz gives (cascrawl/api/health.py), its age and
its problems by severity, then a running crawl with its counts so far, the runs (every one, a page at a time),
the charts with their numbers, and the sections. A run's page tells its mode, duration, HTTP answers and
incremental walk in words and shows the tail of its own log file; the articles can be filtered by section and
publication date, searched and sorted, and an article's revisions are shown as differences.

Article content is untrusted (it comes from the web): every value goes through Jinja2's
autoescaping, links are only made of http(s) URLs, and a Content-Security-Policy without any
script source keeps the browser from running a script even if one slipped through. Input the page cannot
take (too long, not a date, an unknown section) is answered by the page itself, with a message, not JSON.
"""

from __future__ import annotations

import difflib
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit

import jinja2
import markupsafe
from fastapi import FastAPI, Path as PathParam, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from cascrawl import runlog
from cascrawl.api import charts, health, records
from cascrawl.db import page_reads, reads
from cascrawl.drift import describe_group
from cascrawl.health import describe_coverage
from cascrawl.run import mode
from cascrawl.sections import SECTIONS

HERE = Path(__file__).resolve().parent
UI_PAGE = 50  # articles per page
RUNS_PAGE = 20  # runs per page
MAX_ID = records.MAX_ID
MAX_INPUT = 200  # characters of a search, a section filter or any other text the page takes
MAX_PAGE = 1_000_000
LOG_TAIL_BYTES = 64 * 1024  # of a run's log, shown in its page
LOG_DOWNLOAD_BYTES = 16 * 1024 * 1024  # at most this much of a log is downloaded: the end of a longer one
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'"  # the SVG charts carry their styles inline

# How bad each health reason and problem is, said in a word and an icon as well as a colour.
OK, WARNING, ERROR = "ok", "warning", "error"
SEVERITY_WORDS = {OK: ("✓", "OK"), WARNING: ("⚠", "Warning"), ERROR: ("✖", "Error")}
_REASON_SEVERITY = {"ok": OK, "degraded": WARNING, "stale": WARNING}  # else (failed, interrupted, …) ERROR
_ERROR_CODES = {"storage_failed", "site_unreachable", "articles_refused", "worker_lost", "interrupted", "failed",
                "stopped", "redis_lost", "requests_left"}
_STATUS_SEVERITY = {"finished": OK, "running": OK, "degraded": WARNING}
_WORDS_ONLY = {"recorded", "problem"}  # the codes of problems kept in words only (verdict.py, health_state.py)
# What the names of a problem are, by its code (shown as "sections: yw, cm").
_NAMES_ARE = {"section_missing": "sections", "section_failed": "sections", "section_empty": "sections",
              "listing_pages_unread": "sections", "walks_incomplete": "sections", "layout_alarm": "fields",
              "worker_lost": "workers", "redis_lost": "workers", "spider_errors": "exceptions"}


class Refused(ValueError):
    """Input the page does not take; its message is shown in the page."""


def _http_url(value: str | None) -> str | None:
    """The URL if it is http(s), else None: a `javascript:` URL never becomes a link."""
    if not value:
        return None
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        return None
    return value if scheme in ("http", "https") else None


def _templates() -> Jinja2Templates:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    environment.filters["http_url"] = _http_url
    environment.filters["beijing"] = lambda value: (records.iso(value) or "")[:19].replace("T", " ")
    environment.filters["coverage"] = describe_coverage
    environment.filters["log_file"] = records.describe_log_file
    environment.filters["duration"] = mode.describe_seconds
    # A drift group with its paths as <code>; its example URLs are links in the template.
    environment.filters["drift_group"] = lambda group: markupsafe.Markup(describe_group(
        group, code=lambda text: markupsafe.Markup("<code>{}</code>").format(text), examples=False))
    environment.globals["section_names"] = SECTIONS
    environment.globals["severity_words"] = SEVERITY_WORDS
    return Jinja2Templates(env=environment)


# --- pure pieces of the pages (unit-tested) ---

def problem_view(entry: dict[str, Any]) -> dict[str, Any]:
    """A problem as the page shows it: its severity, its text, and what its names are (sections, fields, …)."""
    code = str(entry.get("code") or "problem")
    names = [str(name) for name in entry.get("names") or []]
    label = _NAMES_ARE.get(code)
    text = str(entry.get("text") or code)
    # A problem recorded in words only (a run stored before problems had codes, or one that died): its
    # status line (failed, stopped, interrupted) is an error; it has no code worth showing.
    generic = code in _WORDS_ONLY
    severe = code in _ERROR_CODES or (generic and text.startswith("status "))
    return {"code": None if generic else code, "text": text, "severity": ERROR if severe else WARNING,
            "names_label": label if label and names else None, "names": names if label else []}


def status_severity(status: str | None) -> str:
    return _STATUS_SEVERITY.get(str(status), ERROR)


def health_summary(body: dict[str, Any]) -> dict[str, Any]:
    """The line at the top of the overview from /healthz's body: "Last crawl: degraded, 3 h ago", its severity,
    the detail and the problems."""
    reason = body.get("reason")
    severity = _REASON_SEVERITY.get(str(reason), ERROR)
    age = body.get("age_seconds")
    judged = body.get("run_id")
    if reason == "no_run":
        line = "No crawl has completed yet"
    elif reason == "database_unreachable":
        line = "The database does not answer"
    else:
        status = "ok" if reason == "ok" else ("ok, but too old" if reason == "stale" else str(reason))
        line = f"Last crawl: {status}" + (f", {mode.describe_seconds(age)} ago" if age is not None else "")
    return {"severity": severity, "line": line, "detail": body.get("detail") or "", "run_id": judged,
            "problems": [problem_view(entry) for entry in body.get("problems") or []]}


def run_view(run: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A run as listed: records.run_json plus its mode, duration (so far, when running), HTTP answers and the
    severity of its status."""
    view = records.run_json(run)
    running = run.get("status") == "running"
    seconds = mode.run_seconds(run, now if running else None)
    heartbeat = run.get("heartbeat_at")
    view.update({
        "mode": mode.run_mode(run.get("settings"), run.get("stats")),
        "seconds": seconds,
        "http": mode.http_summary(run.get("stats")),
        "severity": status_severity(run.get("status")),
        "heartbeat_age": (now - heartbeat).total_seconds() if running and isinstance(heartbeat, datetime) else None,
    })
    return view


def text_diff(old: str, new: str, context: int = 1) -> list[dict[str, Any]]:
    """The paragraphs that changed from `old` to `new`, with `context` unchanged ones around each change: a list
    of {"kind": same | del | ins | gap, "parts": [(changed, text), …]}; a replaced paragraph marks the characters
    that changed. Empty when the texts are the same."""
    before, after = old.split("\n"), new.split("\n")
    lines: list[dict[str, Any]] = []
    for number, group in enumerate(difflib.SequenceMatcher(None, before, after, autojunk=False)
                                   .get_grouped_opcodes(context)):
        if number or (group and (group[0][1] > 0 or group[0][3] > 0)):
            lines.append({"kind": "gap", "parts": [(False, "…")]})
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend({"kind": "same", "parts": [(False, line)]} for line in before[i1:i2])
                continue
            removed, added = before[i1:i2], after[j1:j2]
            if tag == "replace" and len(removed) == len(added):
                for left, right in zip(removed, added):
                    old_parts, new_parts = _changed_characters(left, right)
                    lines.append({"kind": "del", "parts": old_parts})
                    lines.append({"kind": "ins", "parts": new_parts})
                continue
            lines.extend({"kind": "del", "parts": [(True, line)]} for line in removed)
            lines.extend({"kind": "ins", "parts": [(True, line)]} for line in added)
    return lines


def _changed_characters(old: str, new: str) -> tuple[list, list]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    old_parts, new_parts = [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            old_parts.append((tag != "equal", old[i1:i2]))
        if j2 > j1:
            new_parts.append((tag != "equal", new[j1:j2]))
    return old_parts, new_parts


def revision_diffs(article: dict[str, Any]) -> list[dict[str, Any]]:
    """Each change of the article, newest first: from revision n-1 to n, the title's and the text's changes."""
    versions = [{"revision": article["revision"], "title": article["title"], "text": article["text"],
                 "updated_at": article["updated_at"]}, *article["revisions"]]
    changes = []
    for newer, older in zip(versions, versions[1:]):
        changes.append({"from": older["revision"], "to": newer["revision"], "at": newer["updated_at"],
                        "title": (older["title"], newer["title"]) if older["title"] != newer["title"] else None,
                        "lines": text_diff(older["text"], newer["text"])})
    return changes


def raw_link(article: Any) -> str | None:
    """The link to the article's archived response (GET /articles/{id}/raw) when its row has one (`warc_file`);
    read defensively: a row of a schema without that column has no link."""
    return f"/articles/{article.id}/raw" if getattr(article, "warc_file", None) else None


def _text(value: str, name: str) -> str:
    if len(value) > MAX_INPUT:
        raise Refused(f"{name}: at most {MAX_INPUT} characters, got {len(value)}")
    return value.strip()


def _day(value: str, name: str) -> date | None:
    value = _text(value, name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refused(f"{name}: expected a date like 2025-06-14, got {value!r}") from None


def _page_number(value: str) -> int:
    value = _text(value, "page") or "1"
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise Refused(f"page: expected a page number from 1, got {value!r}")
    return int(value)


def _query(**values: Any) -> str:
    """The articles page's query string, without the defaults (no filter, the first page, newest change first)."""
    return urlencode({name: value for name, value in values.items()
                      if value not in (None, "") and not (name == "page" and value == 1)
                      and not (name == "sort" and value == "changed")})


def mount_pages(app: FastAPI, health_max_age: float | None = None) -> None:
    """The operator page's routes on the app. health_max_age: /healthz's (seconds), for the verdict at the top."""
    templates = _templates()
    max_age = health.max_age_seconds(health_max_age)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="static")

    def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        context.setdefault("q", "")
        context.setdefault("keep", {})
        response = templates.TemplateResponse(request, name, context, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        return response

    def runs_listing(request: Request, page: str) -> tuple[dict[str, Any] | None, str | None]:
        """(page `page` of the runs as listed, None), or (None, why the page number is refused)."""
        now = datetime.now(timezone.utc)
        try:
            number = _page_number(page)
        except Refused as problem:
            return None, str(problem)
        listed = page_reads.runs_page(request.app.state.database, number, RUNS_PAGE)
        return {"runs": [run_view(run, now) for run in listed.runs], "page": number,
                "pages": max(1, -(-listed.total // RUNS_PAGE)), "total": listed.total}, None

    @app.get("/ui/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request):
        db = request.app.state.database
        now = datetime.now(timezone.utc)
        _, body = health.report(db, max_age, now)
        listing, _ = runs_listing(request, "1")
        running = [run for run in listing["runs"] if run["status"] == "running"]
        sections = [records.section_json(stats) for stats in reads.section_stats(db)]
        latest = reads.list_runs(db, limit=charts.RUNS_SHOWN)
        months, by_section = charts.archive_table(reads.articles_per_month(db))
        return render(request, "home.html", summary=health_summary(body), running=running, listing=listing,
                      sections=sections, totals=reads.totals(db), run_numbers=charts.runs_table(latest),
                      archive_years=_years(months, by_section))

    @app.get("/ui/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs(request: Request, page: str = "1"):
        listing, error = runs_listing(request, page)
        if error:
            return render(request, "runs.html", status=422, error=error,
                          listing={"runs": [], "page": 1, "pages": 1, "total": 0})
        return render(request, "runs.html", error=None, listing=listing)

    @app.get("/ui/charts/{name}.svg", include_in_schema=False)
    def chart(request: Request, name: Literal["archive", "runs", "rejects", "durations", "coverage"]):
        db = request.app.state.database
        if name == "archive":
            svg = charts.archive_chart(reads.articles_per_month(db))
        else:
            draw = {"runs": charts.runs_chart, "rejects": charts.rejects_chart, "durations": charts.durations_chart,
                    "coverage": charts.coverage_chart}[name]
            svg = draw(reads.list_runs(db, limit=charts.RUNS_SHOWN))
        # An image: no script runs in it; its own styles are inside the document.
        return Response(svg, media_type="image/svg+xml",
                        headers={**SECURITY_HEADERS, "Content-Security-Policy": CHART_CSP, "Cache-Control": "no-cache"})

    @app.get("/ui/articles", response_class=HTMLResponse, include_in_schema=False)
    def articles(request: Request, q: str = "", section: str = "", published_from: str = "", published_to: str = "",
                 sort: str = "changed", page: str = "1"):
        db = request.app.state.database
        stored = page_reads.stored_sections(db)
        error = None
        shown = {"q": q[:MAX_INPUT], "section": section[:MAX_INPUT], "published_from": published_from[:MAX_INPUT],
                 "published_to": published_to[:MAX_INPUT], "sort": sort if sort in page_reads.SORTS else "changed"}
        try:
            words = _text(q, "search")
            sections = records.parse_section_filter(_text(section, "section") or None)
            unknown = [slug for slug in sections if slug not in SECTIONS and slug not in stored]
            if unknown:
                raise Refused(f"unknown section {', '.join(unknown)}: no article is stored under it and the catalogue "
                              f"does not know it (known: {', '.join(sorted(set(SECTIONS) | set(stored)))})")
            query = page_reads.ArticleQuery(sections=sections, q=words or None,
                                            published_from=_day(published_from, "published from"),
                                            published_to=_day(published_to, "published to"),
                                            sort=_text(sort, "sort") or "changed")
            if query.sort not in page_reads.SORTS:
                raise Refused(f"sort: expected {' or '.join(page_reads.SORTS)}, got {query.sort!r}")
            number = _page_number(page)
        except (Refused, ValueError) as problem:
            error, query, number = str(problem), None, 1
        listing = page_reads.article_listing(db, query, number, UI_PAGE) if query else None
        pages = max(1, -(-listing.total // UI_PAGE)) if listing else 1
        # What the header's search box sends along, so that a search keeps the filters.
        keep = {name: value for name, value in shown.items() if name != "q" and value and value != "changed"}
        return render(request, "articles.html", status=422 if error else 200, error=error, q=shown["q"],
                      shown=shown, keep=keep, sorts=page_reads.SORTS, stored_sections=stored,
                      articles=listing.articles if listing else [], matching=listing.total if listing else 0,
                      page=number, pages=pages,
                      newer=_query(**shown, page=number - 1) if number > 1 else None,
                      older=_query(**shown, page=number + 1) if number < pages else None)

    @app.get("/ui/articles/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    def article(request: Request, article_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]):
        db = request.app.state.database
        found = reads.get_article(db, article_id)
        if found is None:
            return render(request, "missing.html", status=404, what=f"article {article_id}")
        detail = records.article_detail_json(found, reads.article_revisions(db, found.id))
        return render(request, "article.html", article=detail, changes=revision_diffs(detail), raw=raw_link(found))

    @app.get("/ui/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run(request: Request, run_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]):
        db = request.app.state.database
        found = reads.get_run(db, run_id)
        if found is None:
            return render(request, "missing.html", status=404, what=f"run {run_id}")
        now = datetime.now(timezone.utc)
        rejects = [records.reject_json(row) for row in reads.list_rejects(db, run_id=run_id, limit=200)]
        incomplete = reads.incomplete_sections(db, found["sections"] or [])
        path, why = runlog.readable_log(found.get("log_file"))
        tail, cut = runlog.read_tail(path, LOG_TAIL_BYTES) if path else ("", False)
        detail = records.run_detail_json(found)
        return render(request, "run.html", run=detail, view=run_view(found, now), rejects=rejects,
                      incomplete=incomplete, facts=mode.incremental_facts(found.get("stats"), found.get("settings")),
                      problems=[problem_view(entry) for entry in detail["problem_entries"]],
                      log={"path": path, "why": why, "tail": tail, "cut": cut, "limit": LOG_TAIL_BYTES})

    @app.get("/ui/runs/{run_id}/log", include_in_schema=False)
    def run_log(request: Request, run_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]):
        """The run's own log file (the path its row records, nothing else), as a download of at most
        LOG_DOWNLOAD_BYTES: the end of a longer one."""
        db = request.app.state.database
        found = reads.get_run(db, run_id)
        if found is None:
            return render(request, "missing.html", status=404, what=f"run {run_id}")
        path, why = runlog.readable_log(found.get("log_file"))
        if path is None:
            return render(request, "missing.html", status=404, what=f"log to show for run {run_id}: {why}")
        text, cut = runlog.read_tail(path, LOG_DOWNLOAD_BYTES)
        if cut:
            text = f"[the first part of {path.name} is left out: only its last {LOG_DOWNLOAD_BYTES // 1024 // 1024} MiB are served]\n" + text
        return Response(text.encode("utf-8"), media_type="text/plain; charset=utf-8",
                        headers={**SECURITY_HEADERS, "Content-Security-Policy": "default-src 'none'; sandbox",
                                 "Content-Disposition": f'attachment; filename="run-{run_id}.log"',
                                 "Cache-Control": "no-cache"})


def _years(months: list[tuple[int, int]], by_section: dict[str, list[int]]) -> dict[str, Any]:
    """The archive chart's numbers by year: {"sections": [...], "rows": [(year, [count per section], total)]}."""
    years = sorted({year for year, _ in months})
    rows = []
    for year in years:
        counts = [sum(count for (y, _), count in zip(months, by_section[section]) if y == year) for section in by_section]
        empty = sum(1 for index, (y, _) in enumerate(months) if y == year
                    and not any(values[index] for values in by_section.values()))
        rows.append((year, counts, sum(counts), empty))
    return {"sections": list(by_section), "rows": rows}
