"""The database: the only module that speaks SQL. Functions take and return plain data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import case, create_engine, func, inspect, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session

from cascrawl.db.models import Article, Base, Reject

# Columns an upsert overwrites; first_seen_at and id never change once written.
_CONTENT_COLUMNS = (
    "fetched_url", "docid", "section", "title", "published_date", "published_at", "source",
    "author", "editor", "text", "html", "attachments", "images", "script", "template", "provenance",
)


class DatabaseError(Exception):
    """A database that cannot be used; the message is one line and never shows a password."""


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"


class Database:
    def __init__(self, url: str):
        self.url = url
        try:
            self.engine: Engine = create_engine(url)
        except (NoSuchModuleError, ImportError) as error:  # NoSuchModuleError is an ArgumentError: first
            raise DatabaseError(f"unsupported database URL {safe_url(url)}: {error}") from None
        except (ArgumentError, ValueError) as error:
            raise DatabaseError(f"malformed database URL {safe_url(url)}: {error}") from None

    def open(self, create: bool = True) -> Database:
        """Connect once and create missing tables; fails fast, before any page is fetched.

        With create=False (readers such as export) a database without cascrawl's tables is an error,
        and a missing SQLite file is not silently created.
        """
        try:
            if not create:
                self._require_existing()
            else:
                Base.metadata.create_all(self.engine)
        except SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).splitlines()[0]
            raise DatabaseError(f"cannot open database {safe_url(self.url)}: {reason}") from None
        return self

    def _require_existing(self) -> None:
        database = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
            if not database.startswith("file:") and not Path(database).is_file():
                raise DatabaseError(f"no database file at {database} (run `cascrawl crawl` or `cascrawl demo` first)")
        if not inspect(self.engine).has_table(Article.__tablename__):
            raise DatabaseError(f"database {safe_url(self.url)} has no cascrawl tables (run `cascrawl crawl` first)")

    def close(self) -> None:
        self.engine.dispose()

    # --- writes ---

    def upsert_articles(self, rows: list[dict[str, Any]], seen_at: datetime | None = None) -> None:
        """Insert new articles, update known ones (by canonical url) in one transaction.

        updated_at and revision move only when content_hash changes; last_seen_at always moves.
        """
        if not rows:
            return
        seen_at = seen_at or datetime.now(timezone.utc)
        by_url = {row["url"]: row for row in rows}  # one row per URL per statement
        values = [
            {**{column: row.get(column) for column in _CONTENT_COLUMNS}, "url": url,
             "content_hash": row["content_hash"], "first_seen_at": seen_at, "last_seen_at": seen_at,
             "updated_at": seen_at, "revision": 1,
             "attachments": row.get("attachments") or [], "images": row.get("images") or [],
             "provenance": row.get("provenance") or {}}
            for url, row in by_url.items()
        ]
        insert = self._insert()
        statement = insert(Article).values(values)
        excluded = statement.excluded
        changed = Article.content_hash != excluded.content_hash
        statement = statement.on_conflict_do_update(
            index_elements=[Article.url],
            set_={
                **{column: excluded[column] for column in _CONTENT_COLUMNS},
                "content_hash": excluded.content_hash,
                "last_seen_at": excluded.last_seen_at,
                "updated_at": case((changed, excluded.updated_at), else_=Article.updated_at),
                "revision": case((changed, Article.revision + 1), else_=Article.revision),
            },
        )
        with Session(self.engine) as session, session.begin():
            session.execute(statement)

    def add_rejects(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        with Session(self.engine) as session, session.begin():
            session.add_all(Reject(**row) for row in rows)

    def _insert(self):
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif self.engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            raise DatabaseError(f"unsupported database backend {self.engine.dialect.name!r} (use SQLite or PostgreSQL)")
        return insert

    # --- reads ---

    def iter_articles(self) -> Iterator[Article]:
        """Every article, oldest change first (updated_at, id): the order downstream cursors use."""
        with Session(self.engine) as session:
            query = select(Article).order_by(Article.updated_at, Article.id).execution_options(yield_per=500)
            for article in session.scalars(query):
                yield article

    def count_articles(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(Article)) or 0

    def count_rejects(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(Reject)) or 0
