"""The read-only HTTP API (FastAPI): articles with cursor paging, sections, runs, health, metrics. docs/api.md.

Read-only three times over: only GET routes exist, a middleware answers 405 to every other method
before any route runs, and the database connections themselves refuse writes (a read-only Database).
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import asynccontextmanager
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from cascrawl import __version__
from cascrawl.api import archive, health, metrics, models, records
from cascrawl.db import Database
from cascrawl.db import reads
from cascrawl.db.media import stored_file

logger = logging.getLogger(__name__)

PAGE_DEFAULT = 50
PAGE_MAX = 200  # articles per page: 200 full articles are a few MB at most
RUNS_MAX = 200
READ_METHODS = frozenset({"GET", "HEAD"})
MAX_ID = records.MAX_ID

DESCRIPTION = """Read-only access to the articles cascrawl stored from www.cas.cn, and to its crawl runs.

Article fields are those of the export contract (docs/export.md) plus `id`. `GET /articles` pages
in `(updated_at, id)` order with an opaque cursor: follow `next` until it is `null`, keep `cursor`,
and ask again later with `?cursor=` for what changed since. The operator page is at `/ui/`.
"""


HEALTH_DESCRIPTION = """For monitors (systemd, Kubernetes probes, uptime checks; docs/operations.md). `200` only when
the latest completed run (a `running` one is skipped) is `finished` and younger than CASCRAWL_HEALTH_MAX_AGE
(default 26 h); otherwise `503` with `reason`: `failed`, `degraded` (see `problems`), `stopped`, `interrupted`,
`stale` (see `stale_since`), `no_run` or `database_unreachable`. `last_run` is the newest run, running or not;
`run_id` the one judged."""


# since/until: a date or a date-time. Checked by records.parse_moment (which also takes a date-time without
# an offset, as Beijing time); the schema states the two forms a client should send.
MOMENT_SCHEMA = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}


class ArticlesQuery(BaseModel):
    """Filters and paging of GET /articles; unknown parameters are refused (422), not ignored."""

    model_config = {"extra": "forbid"}

    # The pattern is checked by records.parse_section_filter (with a message that says what a slug is).
    section: str | None = Field(None, max_length=500, json_schema_extra={"pattern": records.SECTIONS_PATTERN},
                                description="section slug, or several comma-separated: `syky`, `yw,cm`, `djcx/gz`")
    since: str | None = Field(None, json_schema_extra=MOMENT_SCHEMA,
                              description="updated at or after: `2025-06-14` (Beijing midnight) or an ISO 8601 "
                                          "date-time (RFC 3339); without an offset, Beijing time")
    until: str | None = Field(None, json_schema_extra=MOMENT_SCHEMA,
                              description="updated before: a date includes that whole day (Beijing time); at or "
                                          "before `since`, nothing matches")
    q: str | None = Field(None, min_length=1, max_length=200, pattern=r"\S",
                          description="words, all required, each in the title or the text (Chinese substrings too)")
    cursor: str | None = Field(None, description="`next` (or `cursor`) of a previous page: continue after it; "
                                                 "empty: from the beginning. Opaque: any other string is refused")
    limit: int = Field(PAGE_DEFAULT, ge=1, le=PAGE_MAX, description=f"articles per page, at most {PAGE_MAX}")


class RunsQuery(BaseModel):
    model_config = {"extra": "forbid"}

    limit: int = Field(20, ge=1, le=RUNS_MAX, description=f"newest runs first, at most {RUNS_MAX}")


class ReadOnly:
    """ASGI middleware: GET and HEAD only. Any other method is answered 405 before routing; HEAD is
    served as GET without the body (FastAPI routes declare GET only)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method = scope["method"]
        if method not in READ_METHODS:
            response = JSONResponse({"detail": f"this service is read-only: {method} is not allowed, only GET and HEAD"},
                                    status_code=405, headers={"Allow": "GET, HEAD"})
            return await response(scope, receive, send)

        async def send_headers_only(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
            elif method == "HEAD" and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        scope = {**scope, "method": "GET"} if method == "HEAD" else scope
        await self.app(scope, receive, send_headers_only)


def _invalid(name: str, message: str, value) -> RequestValidationError:
    """A 422 in FastAPI's own shape, for checks Pydantic cannot express."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}])


def database(request: Request) -> Database:
    return request.app.state.database


Db = Annotated[Database, Depends(database)]


def create_app(database: Database, media_store: str | None = None,
               health_max_age: str | float | None = None) -> FastAPI:
    """The app over an opened Database (`Database(url).open(create=False)`), read through a read-only
    Database of the same URL (an engine of its own: a writer of the same process is not turned read-only),
    which the app closes when it shuts down. `media_store`: the media archive's folder
    (CASCRAWL_MEDIA_STORE), whose files GET /media/{checksum} serves. `health_max_age`: how old the latest
    completed run may be for /healthz (default CASCRAWL_HEALTH_MAX_AGE)."""
    db = database if database.read_only else database.reader()
    max_age = health.max_age_seconds(health_max_age)
    registry = metrics.registry(db, max_age)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            yield
        finally:
            if db is not database:
                db.close()

    # Swagger UI at /docs from the assets fastapi-offline ships (served under /docs/assets), not from a CDN:
    # the docs work without internet.
    app = FastAPIOffline(title="cascrawl read API", version=__version__, description=DESCRIPTION,
                         docs_url="/docs", redoc_url=None, openapi_url="/openapi.json", static_url="/docs/assets",
                         lifespan=lifespan)
    app.state.database = db

    app.add_middleware(ReadOnly)

    @app.exception_handler(SQLAlchemyError)
    async def database_unavailable(request: Request, error: SQLAlchemyError):
        logger.error("database error on %s: %s", request.url.path, db.error_line(error))
        return JSONResponse({"detail": f"database unavailable: {db.error_line(error)}"}, status_code=503)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/ui/", status_code=307)

    @app.get("/articles", response_model=models.ArticlePage, tags=["articles"],
             summary="Articles in (updated_at, id) order, a page at a time")
    def list_articles(query: Annotated[ArticlesQuery, Query()], db: Db, request: Request, response: Response):
        filters = _filters(query)
        after = None
        if query.cursor:
            try:
                after = reads.Cursor.decode(query.cursor)
            except ValueError as error:
                raise _invalid("cursor", f"cursor: {error}", query.cursor) from None
        page = reads.list_articles(db, filters, after=after, limit=query.limit)
        cursor = page.cursor.encode() if page.cursor else None
        next_cursor = cursor if page.has_more else None
        if next_cursor:
            response.headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
        return {"items": [records.article_json(article) for article in page.articles],
                "next": next_cursor, "cursor": cursor, "has_more": page.has_more, "limit": query.limit}

    @app.get("/articles/{article_id}", response_model=models.ArticleDetail, tags=["articles"],
             summary="One article with its provenance and previous revisions",
             responses={304: {"description": "Not modified (If-None-Match matched the ETag)"},
                        404: {"description": "No article with this id"}})
    def get_article(article_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: Db, request: Request):
        article = reads.get_article(db, article_id)
        if article is None:
            return JSONResponse({"detail": f"no article with id {article_id}"}, status_code=404)
        body = records.article_detail_json(article, reads.article_revisions(db, article.id))
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(content, media_type="application/json", headers=headers)

    @app.get("/media/{checksum}", tags=["media"], response_class=FileResponse,
             summary="A file of the media archive, by its checksum (the `checksum` of an article's `media` entry)",
             responses={200: {"description": "The file, with the content type it was served with"},
                        404: {"description": "No stored file with this checksum, or no local media store"}})
    def media_file(checksum: Annotated[str, Path(pattern="^[0-9a-f]{32}$", description="MD5, 32 hex digits")],
                   db: Db):
        found = stored_file(db, checksum)
        local = _local_file(media_store, found[0]) if found else None
        if local is None:
            why = "no media store served here (cascrawl serve --media DIR)" if found and not media_store else \
                f"no stored file with checksum {checksum}"
            return JSONResponse({"detail": why}, status_code=404)
        return FileResponse(local, media_type=found[1] or "application/octet-stream",
                            headers={"Cache-Control": "public, max-age=86400",
                                     "Content-Security-Policy": "default-src 'none'; sandbox"})

    @app.get("/sections", response_model=list[models.Section], tags=["articles"],
             summary="Per section: articles, newest article, latest change, last run")
    def sections(db: Db):
        return [records.section_json(stats) for stats in reads.section_stats(db)]

    @app.get("/runs", response_model=list[models.Run], tags=["runs"], summary="Crawl runs, newest first")
    def runs(query: Annotated[RunsQuery, Query()], db: Db):
        return [records.run_json(run) for run in reads.list_runs(db, limit=query.limit)]

    @app.get("/runs/{run_id}", response_model=models.RunDetail, tags=["runs"],
             summary="One crawl run: counts, problems, rejects by reason, settings, stats",
             responses={404: {"description": "No run with this id"}})
    def run(run_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: Db):
        found = reads.get_run(db, run_id)
        if found is None:
            return JSONResponse({"detail": f"no run with id {run_id}"}, status_code=404)
        return records.run_detail_json(found)

    @app.get("/healthz", response_model=models.Health, tags=["service"],
             summary="Healthy (200) when the latest completed run finished cleanly and recently, else 503 and why",
             description=HEALTH_DESCRIPTION,
             responses={503: {"model": models.Health,
                              "description": "Unhealthy: `reason` says why (failed, degraded, stopped, interrupted, "
                                             "stale, no_run, database_unreachable)"}})
    def healthz(db: Db):
        healthy, body = health.report(db, max_age)
        return body if healthy else JSONResponse(body, status_code=503)

    @app.get("/metrics", tags=["service"], response_class=Response,
             summary="Prometheus metrics, read from the database at scrape time",
             responses={200: {"content": {metrics.CONTENT_TYPE: {}},
                              "description": "Prometheus text exposition format (docs/api.md lists the series)"}})
    def prometheus_metrics():
        return Response(metrics.exposition(registry), media_type=metrics.CONTENT_TYPE)

    app.include_router(archive.router)  # GET /articles/{id}/raw: the archived response (WARC)
    from cascrawl.api.pages import mount_pages

    mount_pages(app)
    return app


def _filters(query: ArticlesQuery) -> reads.ArticleFilter:
    try:
        sections = records.parse_section_filter(query.section, strict=True)
    except ValueError as error:
        raise _invalid("section", str(error), query.section) from None
    bounds = {}
    for name, end_of_day in (("since", False), ("until", True)):
        value = getattr(query, name)
        if value is not None:
            try:
                bounds[name] = records.parse_moment(value, name, end_of_day=end_of_day)
            except ValueError as error:
                raise _invalid(name, str(error), value) from None
    # until at or before since is an empty interval: an empty page, as the schema allows (no cross-field rule).
    q = query.q.strip() if query.q else None
    if query.q is not None and not q:
        raise _invalid("q", "q: give at least one word to search for", query.q)
    return reads.ArticleFilter(sections=sections, q=q, **bounds)


def _local_file(store: str | None, path: str) -> FilePath | None:
    """The stored file in a local media store, or None: no store, a remote one (s3://…), or a path that
    would leave the store's folder."""
    if not store or "://" in store and not store.startswith("file://"):
        return None
    root = FilePath(store.removeprefix("file://")).resolve()
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def _etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/"x" matches "x"; `*` matches any."""
    if not header:
        return False
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or etag in (candidate.removeprefix("W/") for candidate in candidates)
