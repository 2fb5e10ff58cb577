"""What earlier runs stored, as the spider needs it: which articles are known, which to revalidate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from cascrawl.dates import BEIJING
from cascrawl.db import runs
from cascrawl.db.database import Database, as_database
from cascrawl.db.engine import DatabaseError
from cascrawl.db.frontier import Boundary, DueRefetch, load_boundaries, scheduled
from cascrawl.db.models import Article


@dataclass(frozen=True, slots=True)
class StoredArticle:
    url: str
    section: str
    etag: str | None
    last_modified: str | None


@dataclass(slots=True)
class CrawlHistory:
    known_urls: set[str] = field(default_factory=set)  # canonical URLs of every stored article
    refresh: list[StoredArticle] = field(default_factory=list)  # recent articles to revalidate
    boundaries: dict[str, Boundary] = field(default_factory=dict)  # per section: where the listing is complete
    rejected_urls: set[str] = field(default_factory=set)  # pages on the re-fetch schedule (known, not stored)
    due: list[DueRefetch] = field(default_factory=list)  # rejected pages of these sections to try again now


def crawl_history(database: Database | str, sections: list[str], refresh_days: int = 0,
                  known: bool = True) -> CrawlHistory:
    """Known canonical URLs (all sections: listings cross-list each other's articles), the sections'
    completeness boundaries, the rejected pages on the re-fetch schedule (those due now apart) and,
    with refresh_days, the articles of these sections published in the last N days (Beijing time).
    known=False (a --full run, which fetches everything) skips the known URLs and the schedule.
    A database without cascrawl's tables yet has no history.

    `database`: a Database; a URL still works (spiders/cas_news.py passes one), through the same engine."""
    database, made = as_database(database)
    try:
        try:
            database.open(create=False)
        except DatabaseError:
            return CrawlHistory()
        history = CrawlHistory(boundaries=load_boundaries(database, sections))
        if known:
            with Session(database.engine) as session:
                history.known_urls = set(session.scalars(select(Article.url)))
            history.rejected_urls, history.due = scheduled(database, sections, datetime.now(timezone.utc))
        if refresh_days > 0:
            since = datetime.now(BEIJING).date() - timedelta(days=refresh_days)
            query = (
                select(Article.url, Article.section, Article.etag, Article.last_modified)
                .where(Article.section.in_(sections), Article.published_date >= since)
                .order_by(Article.published_date.desc(), Article.id.desc())
            )
            with Session(database.engine) as session:
                history.refresh = [StoredArticle(*row) for row in session.execute(query)]
        return history
    finally:
        if made:
            database.close()


def previous_run_stats(database: Database | str, before_run_id: int | None, limit: int = 10) -> list[dict]:
    """The stats of the last `limit` finished runs before this one (for layout-change alarms).
    `database`: a Database; a URL still works (cascrawl/extensions.py passes one). Home: runs.py."""
    database, made = as_database(database)
    try:
        return runs.previous_run_stats(database, before_run_id, limit)
    finally:
        if made:
            database.close()
