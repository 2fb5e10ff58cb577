"""The feeds of `cascrawl serve`: Atom 1.0 and JSON Feed 1.1 at /feeds/…, per section and for all, with
RFC 5005 archive pages (JSON Feed: `next_url`) and conditional GET. The documents: cascrawl/feeds."""

from __future__ import annotations

import logging
from datetime import timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from cascrawl import settings
from cascrawl.api import answers
from cascrawl.db import Database
from cascrawl.feeds import build, documents

logger = logging.getLogger(__name__)

PAGE_SIZE_DEFAULT = 50

_HEADERS = {
    "ETag": {"description": "changes whenever the document's bytes do; send it back as If-None-Match",
             "schema": {"type": "string"}},
    "Last-Modified": {"description": "the latest change of any article at or before the document's newest "
                                     "(HTTP-date); send it back as If-Modified-Since",
                      "schema": {"type": "string"}},
    "Cache-Control": {"description": "`no-cache`: revalidate before reuse", "schema": {"type": "string"}},
}
_NOT_FOUND = {"type": "object", "required": ["detail"],
              "properties": {"detail": {"type": "string"},
                             "sections": {"type": "array", "items": {"type": "string"},
                                          "description": "the known section slugs (an unknown section)"},
                             "archives": {"type": "integer",
                                          "description": "the archive pages the feed has (an unknown page)"}}}

PAGE_DESCRIPTION = ("an archive page (RFC 5005), 1 holding the oldest articles; none: the current feed, the newest. "
                    "Follow `prev-archive` (Atom) or `next_url` (JSON Feed) rather than counting")

FEED_DESCRIPTION = """Newest change first (a new, late or edited article comes to the top; then the newest stored), each entry the full article: title, the body
as HTML, source, author, editor, section, `published` (the page's time, else its date at Beijing midnight) and
`updated` (the last change of what the export contract carries) in RFC 3339 with +08:00, images, attachments and
videos as enclosures. The entry id is the canonical article URL: it never changes across revisions.

History: the current feed holds the 1 to N most recently changed articles (N = CASCRAWL_FEED_PAGE_SIZE, 50); older ones are
in archive pages of N (`?page=1` the oldest), linked `prev-archive` / `next-archive` / `current`, each marked
`fh:archive`; a feed with no archive is marked `fh:complete`. JSON Feed: `next_url` leads to the next older
page. Walking from the current feed to the end reaches every article exactly once."""

Section = Annotated[str, Path(description="a section slug: `syky`, `djcx/gz` (404 for an unknown one, with the "
                                           "known slugs)")]
PageNumber = Annotated[int | None, Query(ge=1, le=2**31 - 1, description=PAGE_DESCRIPTION)]


# JSON Feed 1.1 (https://jsonfeed.org/version/1.1): the fields it requires, and what cascrawl always sends.
_JSON_FEED = {
    "type": "object", "required": ["version", "title", "items", "feed_url", "home_page_url"],
    "properties": {
        "version": {"type": "string", "enum": [build.JSON_FEED_VERSION]},
        "title": {"type": "string"},
        "home_page_url": {"type": "string"},
        "feed_url": {"type": "string", "description": "the current document's URL: the feed's identity"},
        "next_url": {"type": "string", "description": "the next older document; absent on the oldest"},
        "items": {"type": "array", "items": {
            "type": "object", "required": ["id", "url", "title", "date_published", "date_modified"],
            "properties": {"id": {"type": "string"}, "url": {"type": "string"}, "title": {"type": "string"},
                           "content_html": {"type": "string"}, "content_text": {"type": "string"},
                           "date_published": {"type": "string", "format": "date-time"},
                           "date_modified": {"type": "string", "format": "date-time"},
                           "attachments": {"type": "array", "items": {
                               "type": "object", "required": ["url", "mime_type"],
                               "properties": {"url": {"type": "string"}, "mime_type": {"type": "string"}}}}}}},
    },
}
_SCHEMAS = {"application/atom+xml": {"type": "string", "description": "an Atom 1.0 feed document (XML)"},
            "application/feed+json": _JSON_FEED}


def _responses(media_type: str) -> dict:
    return {
        200: {"description": "The feed document", "content": {media_type: {"schema": _SCHEMAS[media_type]}},
              "headers": _HEADERS},
        304: {"description": "Not modified: If-None-Match matched the ETag (or, without it, If-Modified-Since is "
                             "not older than Last-Modified)", "headers": _HEADERS},
        404: {"description": "No such section (the known slugs are listed) or no such archive page",
              "content": {"application/json": {"schema": _NOT_FOUND}}},
    }


def router(page_size: int | str | None = None) -> APIRouter:
    """The feed routes. page_size: entries per document (default CASCRAWL_FEED_PAGE_SIZE; a value that is not
    a whole number from 1 to 1000 is logged and the default used)."""
    size = _size(settings.CASCRAWL_FEED_PAGE_SIZE if page_size is None else page_size)
    routes = APIRouter(tags=["feeds"])

    def serve(request: Request, kind: str, section: str | None, page: int | None) -> Response:
        database: Database = request.app.state.database
        # Kept while the database is unchanged (SQLite: cascrawl/api/answers.py): every poller of a feed asks
        # for the same document, which is then built once, not sanitized and serialized for each of them.
        served = getattr(request.app.state, "answers", None)
        changes = served.changes.current() if served is not None and served.changes is not None else None
        key = ("feed", changes, str(request.url))
        found = served.kept.get(key) if changes is not None else None
        if found is None:
            try:
                documents.check_section(database, section)
                found = documents.document(database, kind, section, page, size, _links(request, kind, section))
            except documents.UnknownSection as error:
                return JSONResponse({"detail": str(error), "sections": error.known}, status_code=404)
            except documents.NoSuchPage as error:
                return JSONResponse({"detail": str(error), "archives": error.archives}, status_code=404)
            if changes is not None:
                served.kept.put(key, found, len(found.body) + 200)
        gzipped = served is not None and len(found.body) >= answers.GZIP_MIN_SIZE and answers.accepts_gzip(request)
        # The gzip'd document is another representation: its ETag is the weak form of the document's.
        headers = {"ETag": ("W/" if gzipped else "") + found.etag, "Cache-Control": "no-cache"}
        if served is not None:
            headers["Vary"] = "Accept-Encoding"
        if found.last_modified is not None:
            headers["Last-Modified"] = format_datetime(found.last_modified.astimezone(timezone.utc), usegmt=True)
        if _not_modified(request, found):
            return Response(status_code=304, headers=headers)
        if gzipped:
            body = served.copies.compressed(found.etag, found.body)  # compressed once per document
            return Response(body, media_type=found.media_type, headers={**headers, "Content-Encoding": "gzip"})
        return Response(found.body, media_type=found.media_type, headers=headers)

    @routes.get("/feeds/atom", response_class=Response, responses=_responses("application/atom+xml"),
                summary="Atom feed of all sections", description=FEED_DESCRIPTION)
    def atom_all(request: Request, page: PageNumber = None):
        return serve(request, "atom", None, page)

    @routes.get("/feeds/json", response_class=Response, responses=_responses("application/feed+json"),
                summary="JSON Feed of all sections", description=FEED_DESCRIPTION)
    def json_all(request: Request, page: PageNumber = None):
        return serve(request, "json", None, page)

    @routes.get("/feeds/{section:path}/atom", response_class=Response, responses=_responses("application/atom+xml"),
                summary="Atom feed of one section", description=FEED_DESCRIPTION)
    def atom_section(request: Request, section: Section, page: PageNumber = None):
        return serve(request, "atom", section, page)

    @routes.get("/feeds/{section:path}/json", response_class=Response, responses=_responses("application/feed+json"),
                summary="JSON Feed of one section", description=FEED_DESCRIPTION)
    def json_section(request: Request, section: Section, page: PageNumber = None):
        return serve(request, "json", section, page)

    return routes


def _size(value: int | str) -> int:
    try:
        return documents.page_size(value)
    except ValueError as error:
        logger.error("CASCRAWL_FEED_PAGE_SIZE: %s; feeds use %d entries a page", error, PAGE_SIZE_DEFAULT)
        return PAGE_SIZE_DEFAULT


def _links(request: Request, kind: str, section: str | None) -> build.Links:
    """The URLs of this feed's documents on this server (as the client reached it)."""
    base = str(request.base_url).rstrip("/") + "/feeds/" + (f"{section}/" if section else "") + kind
    return lambda number: base if number is None else f"{base}?page={number}"


def _not_modified(request: Request, found: documents.Document) -> bool:
    """RFC 9110 §13.1: If-None-Match (weak comparison, `*` any) decides when sent; else If-Modified-Since."""
    tags = request.headers.get("if-none-match")
    if tags is not None:
        return answers.etag_matches(tags, found.etag)
    since = request.headers.get("if-modified-since")
    if since is None or found.last_modified is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False  # not an HTTP-date: ignored, as RFC 9110 says
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return found.last_modified.replace(microsecond=0) <= moment
