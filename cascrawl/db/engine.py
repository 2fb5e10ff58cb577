"""Connecting to a database: its URL (normalised, shown without password), one engine per database per
process (SQLite pragmas, read-only connections), and what a database error means (`error_kind`).

Engines are shared: every `Database` of one URL in a process uses one engine, so one pool (a `cascrawl
crawl` used to build four: the pre-flight check, the persist pipeline, the spider's history, the health
check). Each holder releases it (`SharedEngine.release`); the last one out closes the pool's connections,
and a later holder gets the same engine with a fresh pool; an engine no Database refers to any more goes. A forked child never uses its parent's connections:
at fork, the child's engines drop their pools without closing them (the parent still uses them).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator

from typing import Protocol

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError, DataError, DBAPIError, IntegrityError, InterfaceError, NoSuchModuleError, OperationalError,
    StatementError,
)

from cascrawl.redact import safe_url, without_password

__all__ = ["DatabaseError", "SharedEngine", "acquire_engine", "error_kind", "error_line", "in_chunks",
           "normalize_url", "safe_url"]

# SQLite allows 32766 bound parameters per statement (999 before 3.32): IN lists go in chunks.
CHUNK = 500


class Connected(Protocol):
    """What the db package's functions need of a `Database` (cascrawl/db/database.py): its engine and URL.
    They take the Database itself; this type keeps them from importing the module that imports them."""

    url: str
    engine: Engine


class DatabaseError(Exception):
    """A database that cannot be used; the message is one line and never shows a password."""


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 (the driver cascrawl installs), not psycopg2."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return url  # reported by acquire_engine
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    return url


def in_chunks(values: list, size: int = CHUNK) -> Iterator[list]:
    """`values` in slices short enough for one IN list (SQLite's bound-parameter limit)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def error_line(error: BaseException, url: str) -> str:
    """The first line of a database error, without the password of `url`."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return without_password(lines[0] if lines else type(error).__name__, url)


# --- one engine per database per process ---

class SharedEngine:
    """The engine of one URL, and how many Databases hold it (the last one out closes its connections)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.holders = 0

    def release(self, held: bool = True) -> None:
        """One holder fewer (held=False: a holder that had released it already, and used it since); when
        nobody holds it, the pool's connections are closed (the engine stays usable, with a fresh pool)."""
        with _engines_lock:
            self.holders = max(self.holders - held, 0)
            if self.holders:
                return
        self.engine.dispose()


# Weak values: an engine lives as long as a Database refers to it (as before, when each Database had
# its own), so connections a caller forgot to close still go with the garbage collector.
_engines: weakref.WeakValueDictionary[tuple[str, bool], SharedEngine] = weakref.WeakValueDictionary()
_engines_lock = threading.Lock()


def acquire_engine(url: str, read_only: bool = False) -> SharedEngine:
    """The process's engine of `url` (normalised), made on first use; `release()` it when done.

    read_only: an engine of its own whose connections refuse writes (SQLite `query_only`, PostgreSQL
    read-only transactions), so that a reader's engine never turns a writer of the same process read-only.
    An in-memory SQLite database is private to its engine: never shared."""
    key = (url, read_only)
    with _engines_lock:
        shared = _engines.get(key)
        if shared is None:
            shared = SharedEngine(_create_engine(url, read_only))
            if not _in_memory(shared.engine):
                _engines[key] = shared
        shared.holders += 1
        return shared


def engines_held() -> dict[tuple[str, bool], int]:
    """(URL without password, read-only) -> holders, of the engines this process keeps (for tests)."""
    with _engines_lock:
        return {(safe_url(url), read_only): shared.holders for (url, read_only), shared in _engines.items()}


def _create_engine(url: str, read_only: bool) -> Engine:
    try:
        parsed = make_url(url)
        server = parsed.get_backend_name() == "postgresql"
        connect_args = {"connect_timeout": 10} if server else {}
        # pre_ping: after a database outage, pooled connections are dead; test each before use. A reader of a
        # SQLite file (`cascrawl serve`) has no connection to lose: no ping (a query more on every checkout,
        # 4% of an API request's time).
        engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=server or not read_only)
    except (NoSuchModuleError, ImportError) as error:  # NoSuchModuleError is an ArgumentError: first
        raise DatabaseError(f"unsupported database URL {safe_url(url)}: {error}") from None
    except (ArgumentError, ValueError) as error:
        raise DatabaseError(f"malformed database URL {safe_url(url)}: {error}") from None
    if engine.dialect.name not in ("sqlite", "postgresql"):
        engine.dispose()
        raise DatabaseError(f"unsupported database backend {engine.dialect.name!r} in {safe_url(url)} "
                            "(use SQLite or PostgreSQL)")
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if read_only:
        listen_read_only(engine)
    return engine


def _in_memory(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


def listen_read_only(engine: Engine) -> None:
    """Every new connection of `engine` refuses writes: SQLite `query_only`, PostgreSQL read-only transactions."""
    dialect = engine.dialect.name

    def _on_connect(dbapi_connection, _record) -> None:
        if dialect == "postgresql":
            # psycopg 3: a plain attribute; every transaction of this connection is READ ONLY.
            dbapi_connection.read_only = True
        else:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only = ON")
            cursor.close()

    event.listen(engine, "connect", _on_connect)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")  # article_revisions -> articles, rejects -> crawl_runs
    # Write-ahead log: `cascrawl export` or `sqlite3` reading during a crawl neither blocks its commits
    # nor is blocked by them (with the default rollback journal a long read makes the crawl's commit
    # wait, then fail with "database is locked"). NORMAL sync is safe in WAL mode: a power cut may
    # lose the last commits, never corrupt the file; the next crawl stores those articles again.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _forget_pools_in_child() -> None:
    """In a forked child: new pools, the inherited connections left to the parent (closing them here
    would end the parent's sessions: https://docs.sqlalchemy.org/en/20/core/pooling.html#pooling-multiprocessing)."""
    for shared in list(_engines.values()):
        shared.engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_pools_in_child)


# --- what a failed write means ---

# What a failed write means, before anyone waits for it (error_kind). A connection that failed, or a SQLite file
# another writer holds locked, goes away by itself: ridden out. A full disk, a read-only file system, a
# permission refused or a corrupt database do not: waiting for them only loses what is pending.
OUTAGE, LOCKED, STORAGE, REFUSED = "outage", "locked", "storage", "refused"
# SQLite primary result codes (https://www.sqlite.org/rescode.html).
_SQLITE_KINDS = {5: (LOCKED, "locked by another writer"), 6: (LOCKED, "locked by another writer"),
                 13: (STORAGE, "disk full"), 8: (STORAGE, "read-only"), 3: (STORAGE, "permission denied"),
                 14: (STORAGE, "cannot open the database file"), 10: (STORAGE, "disk I/O error"),
                 11: (STORAGE, "corrupt database"), 26: (STORAGE, "not a database file")}
_SQLITE_MESSAGES = (("database is locked", _SQLITE_KINDS[5]), ("is locked", _SQLITE_KINDS[6]),
                    ("disk is full", _SQLITE_KINDS[13]), ("readonly database", _SQLITE_KINDS[8]),
                    ("unable to open database file", _SQLITE_KINDS[14]), ("disk i/o error", _SQLITE_KINDS[10]),
                    ("malformed", _SQLITE_KINDS[11]), ("file is not a database", _SQLITE_KINDS[26]))
# PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) that waiting does not cure.
_PG_STORAGE = {"53100": "disk full", "25006": "read-only", "42501": "permission denied", "58030": "disk I/O error",
               "XX001": "corrupt database", "XX002": "corrupt database"}


def error_kind(error: BaseException) -> tuple[str, str]:
    """(OUTAGE | LOCKED | STORAGE | REFUSED, a few words on why) of an error raised by a write."""
    original = getattr(error, "orig", None) or error
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None and (code & 0xFF) in _SQLITE_KINDS:
        return _SQLITE_KINDS[code & 0xFF]
    message = str(original).lower()
    if code is not None or "sqlite" in type(original).__module__:
        for fragment, kind in _SQLITE_MESSAGES:
            if fragment in message:
                return kind
    state = getattr(original, "sqlstate", None)
    if state in _PG_STORAGE:
        return STORAGE, _PG_STORAGE[state]
    if isinstance(error, (OperationalError, InterfaceError)):
        return OUTAGE, "unreachable"
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return OUTAGE, "connection lost"
    return REFUSED, "refused the write"


def row_error(error: Exception) -> tuple[str, str] | None:
    """(reason code, one-line detail) when `error` is about one row's values, else None (connection, …)."""
    if isinstance(error, (IntegrityError, DataError)):
        reason = "db_constraint"
    elif isinstance(error, StatementError) and not isinstance(error, DBAPIError):
        reason = "db_invalid_value"  # refused while binding parameters (naive datetime, wrong type)
    else:
        return None
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:500]
    return reason, detail
