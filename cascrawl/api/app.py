"""The read-only HTTP API (FastAPI): articles with cursor paging, sections, runs, health, metrics. docs/api.md.

Read-only three times over: only GET routes exist, a middleware answers 405 to every other method
before any route runs, and the database connections themselves refuse writes (a read-only Database).
"""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware.gzip import GZipMiddleware

from cascrawl import __version__
from cascrawl.api import answers, archive, feeds, health, metrics, models, records
from cascrawl.db import Database
from cascrawl.db import reads
from cascrawl.db.media import stored_file
from cascrawl.sections import SECTIONS

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


SECTION_DESCRIPTION = ("section slug, or several comma-separated: `syky`, `yw,cm`, `djcx/gz`. Known slugs only (those "
                       "of the catalogue and of the stored articles): another is refused (422) with the known ones")


class ArticlesQuery(BaseModel):
    """Filters and paging of GET /articles; unknown parameters are refused (422), not ignored."""

    model_config = {"extra": "forbid"}

    # The pattern is checked by records.parse_section_filter (with a message that says what a slug is), the
    # slugs by _filters; create_app's openapi() puts the slugs known at startup in the schema's pattern.
    section: str | None = Field(None, max_length=500, json_schema_extra={"pattern": records.SECTIONS_PATTERN},
                                description=SECTION_DESCRIPTION)
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

    cursor: str | None = Field(None, description="the cursor of the `Link: <…>; rel=\"next\"` header of a previous "
                                                 "page: continue with older runs; empty: from the newest")
    limit: int = Field(20, ge=1, le=RUNS_MAX, description=f"newest runs first, at most {RUNS_MAX} a page")


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


# What the OpenAPI document says of headers and statuses (docs/api.md has the same in words).
ETAG_HEADER = {"ETag": {"description": "weak validator (`W/\"…\"`) of what the answer carries, `last_seen_at` "
                                       "aside: unchanged content keeps it across re-crawls. Send it back in "
                                       "If-None-Match for a 304", "schema": {"type": "string"}}}
LINK_HEADER = {"Link": {"description": "`<URL of the next page>; rel=\"next\"` (RFC 8288), when there is one",
                        "schema": {"type": "string"}}}
NOT_MODIFIED = {304: {"description": "Not Modified: If-None-Match matched the ETag (no body)",
                      "headers": ETAG_HEADER}}
EVERY_PATH = {
    405: {"model": models.ErrorDetail, "description": "any method but GET and HEAD (read-only service)",
          "headers": {"Allow": {"description": "GET, HEAD", "schema": {"type": "string"}}}},
    503: {"model": models.ErrorDetail, "description": "the database is unavailable"},
}


def sections_pattern(known: list[str]) -> str:
    """The OpenAPI pattern of `section`: known slugs, comma-separated."""
    one = "(" + "|".join(re.escape(slug) for slug in sorted(known, key=lambda slug: (-len(slug), slug))) + ")"
    return f"^{one}(,{one})*$"


def known_sections(db: Database) -> list[str]:
    """The catalogue's sections (cascrawl/sections.py) and those the database holds articles of."""
    return sorted(set(SECTIONS) | set(reads.stored_sections(db)))


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
    served = answers.Answers(reads.ChangeCounter(db))
    try:
        known = known_sections(db)
    except SQLAlchemyError:  # unreachable now: the catalogue's; a request reads the database's again
        known = sorted(SECTIONS)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Sync routes run in AnyIO's worker threads: no more of them than the reader's pool holds connections
        # (QueuePool: 5), so that no request opens and closes a connection of its own beyond the pool.
        pool_size = getattr(db.engine.pool, "size", lambda: 0)()
        if pool_size:
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = pool_size
        try:
            yield
        finally:
            if db is not database:
                db.close()

    # Swagger UI at /docs from the assets fastapi-offline ships (served under /docs/assets), not from a CDN:
    # the docs work without internet.
    app = FastAPIOffline(title="cascrawl read API", version=__version__, description=DESCRIPTION,
                         docs_url="/docs", redoc_url=None, openapi_url="/openapi.json", static_url="/docs/assets",
                         lifespan=lifespan, responses=EVERY_PATH)
    app.state.database = db
    app.state.answers = served  # a router added later answers JSON with ETags, gzip and kept answers through it

    # Large answers gzip'd for clients that ask (JSON answers are compressed, and kept, by answers.Answers).
    app.add_middleware(GZipMiddleware, minimum_size=answers.GZIP_MIN_SIZE, compresslevel=answers.GZIP_LEVEL)
    app.add_middleware(ReadOnly)

    @app.exception_handler(SQLAlchemyError)
    async def database_unavailable(request: Request, error: SQLAlchemyError):
        logger.error("database error on %s: %s", request.url.path, db.error_line(error))
        return JSONResponse({"detail": f"database unavailable: {db.error_line(error)}"}, status_code=503)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/ui/", status_code=307)

    @app.get("/articles", response_model=models.ArticlePage, tags=["articles"],
             summary="Articles in (updated_at, id) order, a page at a time",
             responses={200: {"description": "A page of articles", "headers": {**ETAG_HEADER, **LINK_HEADER}},
                        **NOT_MODIFIED})
    def list_articles(query: Annotated[ArticlesQuery, Query()], db: Db, request: Request):
        def page() -> dict:
            filters = _filters(query, db, known)
            found = reads.list_articles(db, filters, after=_cursor(query.cursor), limit=query.limit)
            cursor = found.cursor.encode() if found.cursor else None
            return {"items": [records.change_json(article) for article in found.articles],
                    "next": cursor if found.has_more else None, "cursor": cursor, "has_more": found.has_more,
                    "limit": query.limit}

        return served.json(request, page,
                           headers=lambda body: {"Link": _next_link(request, body["next"])} if body["next"] else {})

    @app.get("/articles/{article_id}", response_model=models.ArticleDetail, tags=["articles"],
             summary="One article with its provenance and previous revisions",
             responses={200: {"description": "The article", "headers": ETAG_HEADER}, **NOT_MODIFIED,
                        404: {"model": models.ErrorDetail, "description": "No article with this id"}})
    def get_article(article_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: Db, request: Request):
        def detail():
            article = reads.get_article(db, article_id)
            if article is None:
                return JSONResponse({"detail": f"no article with id {article_id}"}, status_code=404)
            return records.article_detail_json(article, reads.article_revisions(db, article.id))

        # last_seen_at moves at every crawl that sees the article: not a change of what it carries.
        return served.json(request, detail, leave_out=("last_seen_at",))

    @app.get("/media/{checksum}", tags=["media"], response_class=FileResponse,
             summary="A file of the media archive, by its checksum (the `checksum` of an article's `media` entry)",
             responses={200: {"description": "The file, with the content type it was served with"},
                        404: {"model": models.ErrorDetail,
                              "description": "No stored file with this checksum, or no local media store"}})
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

    @app.get("/runs", response_model=list[models.Run], tags=["runs"], summary="Crawl runs, newest first, a page at a time",
             responses={200: {"description": "A page of runs; the `Link` header names the next (older) page",
                              "headers": LINK_HEADER}})
    def runs(query: Annotated[RunsQuery, Query()], db: Db, request: Request):
        found = reads.list_runs(db, limit=query.limit + 1, before=_cursor(query.cursor))
        page = found[:query.limit]
        headers = {}
        if len(found) > query.limit:
            last = page[-1]
            headers["Link"] = _next_link(request, reads.Cursor(last["started_at"], last["id"]).encode())
        return JSONResponse([records.run_json(run) for run in page], headers=headers)

    @app.get("/runs/{run_id}", response_model=models.RunDetail, tags=["runs"],
             summary="One crawl run: counts, problems, rejects by reason, settings, stats",
             responses={404: {"model": models.ErrorDetail, "description": "No run with this id"}})
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

    app.include_router(feeds.router())  # /feeds/…: Atom and JSON Feed (cascrawl/api/feeds.py)
    app.include_router(archive.router)  # GET /articles/{id}/raw: the archived response (WARC)

    def openapi() -> dict:
        """FastAPI's document, with the slugs known at startup as the pattern of `section`."""
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            for parameter in document["paths"]["/articles"]["get"]["parameters"]:
                if parameter["name"] == "section":
                    parameter["schema"]["pattern"] = sections_pattern(known)
        return app.openapi_schema

    app.openapi = openapi

    from cascrawl.api.pages import mount_pages

    mount_pages(app, max_age)
    return app


def _cursor(value: str | None) -> reads.Cursor | None:
    """The `cursor` parameter decoded (None when absent); a foreign one is a 422 naming it."""
    if not value:
        return None
    try:
        return reads.Cursor.decode(value)
    except ValueError as error:
        raise _invalid("cursor", f"cursor: {error}", value) from None


def _filters(query: ArticlesQuery, db: Database, known: list[str]) -> reads.ArticleFilter:
    try:
        sections = records.parse_section_filter(query.section, strict=True)
    except ValueError as error:
        raise _invalid("section", str(error), query.section) from None
    if any(section not in known for section in sections):
        known = known_sections(db)  # a section stored since the service started is known too
        unknown = [section for section in sections if section not in known]
        if unknown:
            raise _invalid("section", f"section: unknown {', '.join(unknown)}; known sections: {', '.join(known)}",
                           query.section)
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
    # Following changes (since, cursor): the articles withdrawn meanwhile come as tombstones.
    return reads.ArticleFilter(sections=sections, q=q, tombstones=bool(query.since or query.cursor), **bounds)


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


def _next_link(request: Request, cursor: str) -> str:
    return f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'
