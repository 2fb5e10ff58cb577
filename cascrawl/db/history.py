"""What earlier runs stored, as the spider needs it: which articles are known, which to revalidate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cascrawl.dates import BEIJING
from cascrawl.db.models import Article
from cascrawl.db.store import Database, DatabaseError


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


def crawl_history(database_url: str, sections: list[str], refresh_days: int = 0) -> CrawlHistory:
    """Known canonical URLs (all sections: listings cross-list each other's articles) and, with
    refresh_days, the articles of these sections published in the last N days (Beijing time).
    A database without cascrawl's tables yet has no history."""
    database = Database(database_url)
    try:
        try:
            database.open(create=False)
        except DatabaseError:
            return CrawlHistory()
        history = CrawlHistory()
        with Session(database.engine) as session:
            history.known_urls = set(session.scalars(select(Article.url)))
            if refresh_days > 0:
                since = datetime.now(BEIJING).date() - timedelta(days=refresh_days)
                query = (
                    select(Article.url, Article.section, Article.etag, Article.last_modified)
                    .where(Article.section.in_(sections), Article.published_date >= since)
                    .order_by(Article.published_date.desc(), Article.id.desc())
                )
                history.refresh = [StoredArticle(*row) for row in session.execute(query)]
        return history
    finally:
        database.close()
