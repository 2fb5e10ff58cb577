"""The seam where another store could go: `ArticleStore`, what a crawl needs from the place it stores
into, which `Database` implements. Also, until their callers move, the names this module used to define
(error kinds: engine.py; safe_url: cascrawl/redact.py): import them from there.

A crawl also records, through the same object: walks and the re-fetch schedule (frontier.py), media
(media.py), the run lock (lock.py) and what earlier runs stored (history.py). Those take the `Database`
as their first argument; another store would provide them beside these methods.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from cascrawl.db.articles import UpsertResult
# Moved to engine.py; kept here for the modules not converted yet (pipelines/persist.py, cascrawl/spool.py,
# cascrawl/cli/__init__.py, tests/test_storage_faults_kinds.py). safe_url's home: cascrawl/redact.py.
from cascrawl.db.engine import LOCKED, OUTAGE, REFUSED, STORAGE, error_kind, safe_url

__all__ = ["ArticleStore", "LOCKED", "OUTAGE", "REFUSED", "STORAGE", "error_kind", "safe_url"]


@runtime_checkable
class ArticleStore(Protocol):
    """What the persist pipeline and the run record need from a store. Every method may raise the
    store's errors; `error_line` says one in a line without secrets, and a writer asks
    `cascrawl.db.engine.error_kind` whether waiting can cure it."""

    url: str  # where it is (shown only through cascrawl.redact.safe_url)

    def open(self, create: bool = True, auto_upgrade: bool = False) -> ArticleStore:
        """Usable now, its schema at head (created for a crawl), else DatabaseError: before any fetch."""

    def close(self) -> None: ...

    def error_line(self, error: Exception) -> str: ...

    def upsert_articles(self, rows: Iterable[dict[str, Any]], seen_at: datetime | None = None,
                        run_id: int | None = None, seen: bool = True) -> UpsertResult:
        """Store a batch by canonical URL in one transaction (insert, revise, refresh, see again); a row
        the store refuses is left out and recorded as a reject (UpsertResult.rejected). `seen=False`: a
        re-extraction from the archive, which leaves the rows' last_seen_at alone."""

    def add_rejects(self, rows: list[dict[str, Any]], run_id: int | None = None) -> None: ...

    def sync_search(self) -> int:
        """Bring the search index up to date; how many articles it indexed."""

    def start_run(self, *, base_url: str | None, sections: list[str], settings: dict[str, Any],
                  started_at: datetime | None = None, log_file: str | None = None) -> int: ...

    def finish_run(self, run_id: int, *, status: str, reason: str | None, stats: dict[str, Any] | None,
                   coverage: dict[str, Any] | None = None, finished_at: datetime | None = None) -> None: ...

    # a distributed crawl: one run, a row per worker
    def rejoin_run(self, run_id: int) -> bool: ...

    def add_worker(self, run_id: int, worker: str) -> int: ...

    def finish_worker(self, worker_id: int, *, status: str, reason: str | None,
                      stats: dict[str, Any] | None) -> None: ...

    def interrupt_workers(self, run_id: int) -> int: ...

    def run_workers(self, run_id: int) -> list[dict[str, Any]]: ...
