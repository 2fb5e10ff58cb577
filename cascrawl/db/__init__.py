"""Database layer: models, migrations and the one module that speaks SQL (store)."""

from cascrawl.db.models import Article, ArticleRevision, CrawlRun, Reject
from cascrawl.db.store import Database, DatabaseError, UpsertResult, normalize_url, safe_url
from cascrawl.db.history import CrawlHistory, StoredArticle, crawl_history

__all__ = ["Article", "ArticleRevision", "CrawlHistory", "CrawlRun", "Database", "DatabaseError", "Reject",
           "StoredArticle", "UpsertResult", "crawl_history", "normalize_url", "safe_url"]
