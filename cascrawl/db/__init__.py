"""Database layer: models, migrations and the one module that speaks SQL (store)."""

from cascrawl.db.models import Article, ArticleRevision, CrawlRun, Reject
from cascrawl.db.store import Database, DatabaseError, UpsertResult, normalize_url, safe_url
from cascrawl.db.history import CrawlHistory, StoredArticle, crawl_history, previous_run_stats
from cascrawl.db.lock import RunLock, RunLocked

__all__ = ["Article", "ArticleRevision", "CrawlHistory", "CrawlRun", "Database", "DatabaseError", "Reject", "RunLock",
           "RunLocked", "StoredArticle", "UpsertResult", "crawl_history", "previous_run_stats", "normalize_url", "safe_url"]
