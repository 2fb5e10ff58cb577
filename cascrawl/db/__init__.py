"""Database layer: models and the one module that speaks SQL."""

from cascrawl.db.models import Article, Reject
from cascrawl.db.store import Database, DatabaseError, safe_url

__all__ = ["Article", "Database", "DatabaseError", "Reject", "safe_url"]
