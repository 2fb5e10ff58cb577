"""The operator page: server-rendered HTML under /ui/ (Jinja2, autoescaped, no JavaScript).

Article content is untrusted (it comes from the web): every value goes through Jinja2's
autoescaping, links are only made of http(s) URLs, and a Content-Security-Policy without any
script source keeps the browser from running a script even if one slipped through.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import jinja2
import markupsafe
from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from cascrawl.api import charts, records
from cascrawl.db import reads
from cascrawl.drift import describe_group
from cascrawl.health import describe_coverage
from cascrawl.sections import SECTIONS

HERE = Path(__file__).resolve().parent
UI_PAGE = 50
MAX_ID = records.MAX_ID
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'"  # the SVG charts carry their styles inline


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
    # A drift group with its paths as <code>; its example URLs are links in the template.
    environment.filters["drift_group"] = lambda group: markupsafe.Markup(describe_group(
        group, code=lambda text: markupsafe.Markup("<code>{}</code>").format(text), examples=False))
    environment.globals["section_names"] = SECTIONS
    return Jinja2Templates(env=environment)


def mount_pages(app: FastAPI) -> None:
    templates = _templates()
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="static")

    def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        response = templates.TemplateResponse(request, name, context, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/ui/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request):
        db = request.app.state.database
        runs = [records.run_json(run) for run in reads.list_runs(db, limit=20)]
        sections = [records.section_json(stats) for stats in reads.section_stats(db)]
        return render(request, "home.html", runs=runs, sections=sections, totals=reads.totals(db), q="")

    @app.get("/ui/charts/{name}.svg", include_in_schema=False)
    def chart(request: Request, name: Literal["archive", "runs", "coverage"]):
        db = request.app.state.database
        if name == "archive":
            svg = charts.archive_chart(reads.articles_per_month(db))
        else:
            runs = reads.list_runs(db, limit=charts.RUNS_SHOWN)
            svg = charts.runs_chart(runs) if name == "runs" else charts.coverage_chart(runs)
        # An image: no script runs in it; its own styles are inside the document.
        return Response(svg, media_type="image/svg+xml",
                        headers={**SECURITY_HEADERS, "Content-Security-Policy": CHART_CSP, "Cache-Control": "no-cache"})

    @app.get("/ui/articles", response_class=HTMLResponse, include_in_schema=False)
    def articles(request: Request, q: Annotated[str, Query(max_length=200)] = "",
                 section: Annotated[str, Query(max_length=200)] = "", cursor: str = ""):
        db = request.app.state.database
        error = None
        try:
            sections = records.parse_section_filter(section or None)
            after = reads.Cursor.decode(cursor) if cursor else None
        except ValueError as problem:
            error, sections, after = str(problem), (), None
        filters = reads.ArticleFilter(sections=sections, q=q.strip() or None)
        page = reads.list_articles(db, filters, after=after, limit=UI_PAGE, newest_first=True)
        return render(request, "articles.html", status=422 if error else 200, error=error, q=q, section=section,
                      articles=page.articles, older=page.cursor.encode() if page.has_more else None,
                      matching=reads.count_articles(db, filters))

    @app.get("/ui/articles/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    def article(request: Request, article_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]):
        db = request.app.state.database
        found = reads.get_article(db, article_id)
        if found is None:
            return render(request, "missing.html", status=404, what=f"article {article_id}", q="")
        detail = records.article_detail_json(found, reads.article_revisions(db, found.id))
        return render(request, "article.html", article=detail, q="")

    @app.get("/ui/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run(request: Request, run_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]):
        db = request.app.state.database
        found = reads.get_run(db, run_id)
        if found is None:
            return render(request, "missing.html", status=404, what=f"run {run_id}", q="")
        rejects = [records.reject_json(row) for row in reads.list_rejects(db, run_id=run_id, limit=200)]
        incomplete = reads.incomplete_sections(db, found["sections"] or [])
        return render(request, "run.html", run=records.run_detail_json(found), rejects=rejects, incomplete=incomplete, q="")
