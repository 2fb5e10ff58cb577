"""Database layer: models, migrations and the one module that speaks SQL (store)."""

from cascrawl.db.models import Article, ArticleRevision, CrawlRun, Reject
from cascrawl.db.store import Database, DatabaseError, UpsertResult, normalize_url, safe_url

__all__ = ["Article", "ArticleRevision", "CrawlRun", "Database", "DatabaseError", "Reject", "UpsertResult",
           "normalize_url", "safe_url"]
