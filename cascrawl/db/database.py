"""`Database`: the one object callers hold for a database. It holds the process's engine of its URL
(engine.py) and hands each job to the module that does it: the schema (schema.py), storing articles
(articles.py), run records (runs.py), search (search.py). The other modules of the db layer take it as
their first argument."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from cascrawl.db import articles, runs, schema, search
from cascrawl.db.articles import UpsertResult
from cascrawl.db.engine import acquire_engine, error_line, normalize_url
from cascrawl.db.migrate import SchemaState
from cascrawl.db.models import Article


class Database:
    """A database by URL. Cheap to make: databases of one URL share one engine (one pool) in a process.
    close() gives it back (the last holder's close closes the pool's connections).

    read_only: an engine of its own whose every connection refuses writes (`cascrawl serve`)."""

    def __init__(self, url: str, *, read_only: bool = False):
        self.url = normalize_url(url)
        self.read_only = read_only
        self._shared = acquire_engine(self.url, read_only)  # DatabaseError for an unusable URL
        self.engine: Engine = self._shared.engine
        self._held = True

    def __repr__(self) -> str:
        from cascrawl.redact import safe_url

        return f"Database({safe_url(self.url)!r}{', read_only=True' if self.read_only else ''})"

    def reader(self) -> Database:
        """A Database of the same URL whose connections refuse writes (close it too)."""
        return Database(self.url, read_only=True)

    def close(self) -> None:
        """Done with it. Closing twice, or using it after close (its engine still works, with new
        connections) and closing again, is harmless."""
        self._shared.release(held=self._held)
        self._held = False

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- schema (schema.py) ---

    def open(self, create: bool = True, auto_upgrade: bool = False) -> Database:
        """Check the schema (create or upgrade it when asked); DatabaseError, in one line, when unusable."""
        schema.open_schema(self, create, auto_upgrade)
        return self

    def schema_state(self) -> SchemaState:
        return schema.schema_state(self)

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        return schema.upgrade(self, revision)

    def require_file(self) -> None:
        schema.require_file(self)

    def error_line(self, error: Exception) -> str:
        """The first line of a database error, without the password."""
        return error_line(error, self.url)

    # --- articles (articles.py, search.py) ---

    def upsert_articles(self, rows: Iterable[dict[str, Any]], seen_at: datetime | None = None,
                        run_id: int | None = None, seen: bool = True) -> UpsertResult:
        return articles.upsert_articles(self, rows, seen_at, run_id, seen)

    def sync_search(self) -> int:
        return search.sync_search(self)

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        return search.search(self, query, limit)

    def iter_articles(self) -> Iterator[Article]:
        """Every article, oldest change first (updated_at, id): the order downstream cursors use."""
        with Session(self.engine) as session:
            query = select(Article).order_by(Article.updated_at, Article.id).execution_options(yield_per=500)
            for article in session.scalars(query):
                yield article

    def count_articles(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(Article)) or 0

    # --- runs, workers, rejects (runs.py) ---

    def start_run(self, *, base_url: str | None, sections: list[str], settings: dict[str, Any],
                  started_at: datetime | None = None, log_file: str | None = None) -> int:
        return runs.start_run(self, base_url=base_url, sections=sections, settings=settings, started_at=started_at,
                              log_file=log_file)

    def finish_run(self, run_id: int, *, status: str, reason: str | None, stats: dict[str, Any] | None,
                   coverage: dict[str, Any] | None = None, finished_at: datetime | None = None) -> None:
        runs.finish_run(self, run_id, status=status, reason=reason, stats=stats, coverage=coverage,
                        finished_at=finished_at)

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        return runs.get_run(self, run_id)

    def rejoin_run(self, run_id: int) -> bool:
        return runs.rejoin_run(self, run_id)

    def add_worker(self, run_id: int, worker: str) -> int:
        return runs.add_worker(self, run_id, worker)

    def finish_worker(self, worker_id: int, *, status: str, reason: str | None, stats: dict[str, Any] | None) -> None:
        runs.finish_worker(self, worker_id, status=status, reason=reason, stats=stats)

    def interrupt_workers(self, run_id: int) -> int:
        return runs.interrupt_workers(self, run_id)

    def run_workers(self, run_id: int) -> list[dict[str, Any]]:
        return runs.run_workers(self, run_id)

    def add_rejects(self, rows: list[dict[str, Any]], run_id: int | None = None) -> None:
        runs.add_rejects(self, rows, run_id)

    def count_rejects(self) -> int:
        return runs.count_rejects(self)


def as_database(database: Database | str) -> tuple[Database, bool]:
    """(the Database, whether the caller made it and must close it) of a Database or, from callers not
    converted yet, a URL."""
    if isinstance(database, Database):
        return database, False
    return Database(database), True
