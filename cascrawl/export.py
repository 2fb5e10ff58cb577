"""The export contract: one JSON object per article per line (see docs/export.md); a withdrawn article, which
only the change cursor returns, as a tombstone."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
from typing import IO

from cascrawl.dates import BEIJING
from cascrawl.db import Article
from cascrawl.db.models import ArticleMedia

EXPORT_KEYS = (
    "url", "section", "title", "published_date", "published_at", "source", "author", "editor",
    "text", "attachments", "images", "videos", "media", "content_hash", "first_seen_at", "updated_at",
)
# A withdrawn article (its page gone on two checks in a row) as the change cursor returns it.
TOMBSTONE_KEYS = ("url", "withdrawn", "withdrawn_at", "updated_at")
# CSV: the contract's columns and withdrawn_at (empty but on a tombstone's row).
CSV_KEYS = (*EXPORT_KEYS, "withdrawn_at")


def _iso(moment: datetime | None, zone=BEIJING) -> str | None:
    return moment.astimezone(zone).isoformat() if moment else None


def article_record(article: Article) -> dict:
    """An article as the export contract spells it; dates of the site in Beijing time (+08:00)."""
    return {
        "url": article.url,
        "section": article.section,
        "title": article.title,
        "published_date": article.published_date.isoformat(),
        "published_at": _iso(article.published_at),
        "source": article.source,
        "author": article.author,
        "editor": article.editor,
        "text": article.text,
        "attachments": article.attachments or [],
        "images": article.images or [],
        "videos": article.videos or [],
        "media": [media_record(file) for file in article.media],
        "content_hash": article.content_hash,
        "first_seen_at": _iso(article.first_seen_at),
        "updated_at": _iso(article.updated_at),
    }


def tombstone_record(article: Article) -> dict:
    """A withdrawn article: which one, since when, and its place in the change order (updated_at)."""
    return {"url": article.url, "withdrawn": True, "withdrawn_at": _iso(article.withdrawn_at),
            "updated_at": _iso(article.updated_at)}


def change_record(article: Article) -> dict:
    """What a reader following the change cursor gets: the article, or its tombstone once withdrawn."""
    return tombstone_record(article) if article.withdrawn_at is not None else article_record(article)


def media_record(file: ArticleMedia) -> dict:
    """One file of the media archive: where it is in the store, or why it is not."""
    return {"kind": file.kind, "url": file.url, "status": file.status, "path": file.path, "checksum": file.checksum,
            "size": file.size, "content_type": file.content_type, "failure": file.failure}


def write_jsonl(articles: Iterable[Article], stream: IO[str]) -> int:
    count = 0
    for article in articles:
        stream.write(json.dumps(change_record(article), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(articles: Iterable[Article], stream: IO[str]) -> int:
    """The same fields as CSV (RFC 4180, UTF-8, a header row): lists as JSON text, null as an empty cell; a
    tombstone is a row of url, updated_at and withdrawn_at, its other cells empty."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(CSV_KEYS)
    count = 0
    for article in articles:
        record = change_record(article)
        writer.writerow([
            json.dumps(value, ensure_ascii=False) if isinstance(value, list) else ("" if value is None else value)
            for value in (record.get(key) for key in CSV_KEYS)
        ])
        count += 1
    return count
