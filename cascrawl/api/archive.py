"""GET /articles/{id}/raw: the archived response an article came from, as text (cascrawl/archive/show.py).
Read-only; 404 with the reason when the article or its record is not there."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse

from cascrawl.archive.reader import ArchiveError
from cascrawl.api.records import MAX_ID
from cascrawl.archive.show import article_response, raw_text, reader_archive_dir
from cascrawl.db import reads

router = APIRouter()


@router.get("/articles/{article_id}/raw", response_class=PlainTextResponse, tags=["articles"],
            summary="The response the article came from, as archived (WARC): status, headers, body as text",
            responses={200: {"content": {"text/plain": {}}, "description": "The archived response"},
                       404: {"content": {"text/plain": {}},
                             "description": "No such article, or no archived response for it (the reason)"}})
def article_raw(article_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request) -> PlainTextResponse:
    db = request.app.state.database
    article = reads.get_article(db, article_id)
    if article is None:
        return PlainTextResponse(f"no article with id {article_id}\n", status_code=404)
    folder = getattr(request.app.state, "warc_dir", None) or reader_archive_dir(db.url)
    try:
        response = article_response(article, folder)
    except ArchiveError as error:
        return PlainTextResponse(f"{error}\n", status_code=404)
    return PlainTextResponse(raw_text(response))
