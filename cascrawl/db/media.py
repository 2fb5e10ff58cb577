"""The media archive's records (`article_media`): per article, each file it links and what became of it.
Both functions take the `Database` first."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cascrawl.db.database import Database
from cascrawl.db.engine import in_chunks
from cascrawl.db.models import Article, ArticleMedia


def record_media(database: Database, media: Iterable[tuple[str, list[dict[str, Any]]]],
                 now: datetime | None = None) -> set[str]:
    """Write what the media archive did, as (article URL, its file entries) pairs; an entry is
    {kind, url, status: stored|skipped|failed, path, checksum, size, content_type, failure, fetched}.

    A file found already in the store (not fetched again) keeps the size and type recorded when it
    was fetched, for this article or another one that links the same URL. A file that failed after
    an earlier success keeps its stored copy (path, checksum) and records the failure.

    The export contract carries these records (`media`): an article whose files changed (a new file,
    another status, checksum or failure) gets its updated_at moved, so change cursors see it. Returns
    the URLs of those articles."""
    now = now or datetime.now(timezone.utc)
    pairs = [(article_url, entry) for article_url, entries in media for entry in entries if entry.get("url")]
    if not pairs:
        return set()
    changed: set[str] = set()
    with Session(database.engine) as session, session.begin():
        urls = sorted({entry["url"] for _, entry in pairs})
        existing: dict[tuple[str, str], ArticleMedia] = {}
        fetched_as: dict[str, tuple[int | None, str | None]] = {}  # file URL -> (size, type) when it was fetched
        for chunk in in_chunks(urls):
            for row in session.scalars(select(ArticleMedia).where(ArticleMedia.url.in_(chunk))):
                existing[(row.article_url, row.url)] = row
                if row.size is not None:
                    fetched_as.setdefault(row.url, (row.size, row.content_type))
        for article_url, entry in pairs:
            url = entry["url"]
            row = existing.get((article_url, url))
            before = None if row is None else _contract_view(row)
            if row is None:
                row = ArticleMedia(article_url=article_url, url=url, attempts=0, first_seen_at=now)
                session.add(row)
                existing[(article_url, url)] = row
            row.kind, row.updated_at = entry["kind"], now
            if entry.get("fetched"):
                row.attempts += 1
            if entry["status"] == "stored":
                size, content_type = entry.get("size"), entry.get("content_type")
                if size is None:  # found in the store: what was recorded when it was fetched
                    size, content_type = fetched_as.get(url, (row.size, row.content_type))
                row.status, row.path, row.checksum, row.failure = "stored", entry.get("path"), entry.get("checksum"), None
                row.size, row.content_type = size, content_type
                if size is not None:
                    fetched_as[url] = (size, content_type)
            elif entry["status"] == "failed" and row.path:  # the copy stored earlier is still there
                row.failure = entry.get("failure")
            else:
                row.status, row.failure = entry["status"], entry.get("failure")
            if _contract_view(row) != before:
                changed.add(article_url)
        if changed:
            for chunk in in_chunks(sorted(changed)):
                session.execute(update(Article).where(Article.url.in_(chunk)).values(updated_at=now))
    return changed


def _contract_view(row: ArticleMedia) -> tuple:
    """What a change cursor should notice of a file: not its failure's wording (it may name a port or a
    time), only the reason code."""
    return row.kind, row.status, row.checksum, (row.failure or "").split(":")[0]


def stored_file(database: Database, checksum: str) -> tuple[str, str | None] | None:
    """(path in the store, content type) of a stored file with this checksum, or None."""
    with Session(database.engine) as session:
        query = (select(ArticleMedia.path, ArticleMedia.content_type)
                 .where(ArticleMedia.checksum == checksum, ArticleMedia.path.is_not(None))
                 .order_by(ArticleMedia.id).limit(1))
        row = session.execute(query).first()
    return (row.path, row.content_type) if row else None
