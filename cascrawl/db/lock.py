"""One crawl at a time per database: a lock that the operating system or the server releases when
the process holding it dies, so a crashed run never blocks the next one.

SQLite: an exclusive `flock` on `<database file>.lock` (released when the process exits).
PostgreSQL: a session advisory lock held by one open connection (released when it closes). The
workers of a distributed crawl (cascrawl/distributed/) share one run: each holds the lock in shared
mode, so they run side by side while a lone run (exclusive) is refused, and the other way round.

Readers ask whether the lock is held (`run_lock_held`) to tell a dead run from a live one: on PostgreSQL
from pg_locks, without taking it; on SQLite by a shared `flock` tried and let go at once, which a run
starting at that instant rides over (it tries its own lock a few times over a moment before giving up).
"""

from __future__ import annotations

import fcntl
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from cascrawl.db.database import Database
from cascrawl.redact import safe_url

# pg_advisory_lock key: "cascrawl" as a number, so other applications' locks do not collide with ours.
_ADVISORY_KEY = int.from_bytes(b"cascrawl", "big") & 0x7FFFFFFFFFFFFFFF
# A reader's probe holds the SQLite lock file for microseconds: a run starting then tries again for this long.
_PROBE_RIDE_SECONDS = 0.25


def _lock_path(database: str) -> Path:
    return Path(database).with_name(Path(database).name + ".lock")


def _flock_now(handle, mode: int) -> bool:
    """The flock, not waiting for it (False: another process holds it), tried again over a reader's probe."""
    deadline = time.monotonic() + _PROBE_RIDE_SECONDS
    while True:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def run_lock_held(database: Database) -> bool:
    """Whether a run (or a distributed crawl's worker) holds this database's run lock now. Takes nothing
    that a run needs for longer than an instant; works through a read-only Database."""
    engine = database.engine
    if engine.dialect.name == "sqlite":
        name = engine.url.database
        if not name or name == ":memory:":
            return False  # a private in-memory database: no other process runs in it
        try:
            handle = open(_lock_path(name), "rb")
        except FileNotFoundError:
            return False  # no run ever took it
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    # An advisory lock on a bigint key: classid the high 32 bits, objid the low ones, objsubid 1; per database.
    with engine.connect() as connection:
        return bool(connection.execute(text(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND classid = :high AND objid = :low"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"),
            {"high": _ADVISORY_KEY >> 32, "low": _ADVISORY_KEY & 0xFFFFFFFF}).scalar())


class RunLocked(Exception):
    """Another run holds the lock; the message says which, in one line."""


class RunLock:
    def __init__(self, database: Database, shared: bool = False):
        self.database = database
        self.shared = shared
        self._file = None
        self._connection: Connection | None = None

    def acquire(self) -> RunLock:
        engine = self.database.engine
        where = safe_url(self.database.url)
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            if not database or database == ":memory:":
                return self  # a private in-memory database: nobody else can crawl into it
            handle = open(_lock_path(database), "a+", encoding="utf-8")
            if not _flock_now(handle, fcntl.LOCK_EX):
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise RunLocked(f"another cascrawl run is crawling into {where} ({holder}); try again when it has finished") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, since {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC\n")
            handle.flush()
            self._file = handle
        else:
            connection = engine.connect()
            function = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
            got = connection.execute(text(f"SELECT {function}(:key)"), {"key": _ADVISORY_KEY}).scalar()
            connection.commit()
            if not got:
                holder = connection.execute(
                    text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :low AND granted LIMIT 1"),
                    {"low": _ADVISORY_KEY & 0xFFFFFFFF},
                ).scalar()
                connection.close()
                detail = f"server pid {holder}" if holder else "another session"
                if self.shared:
                    detail += ", not a distributed crawl"
                raise RunLocked(f"another cascrawl run is crawling into {where} ({detail}); try again when it has finished")
            self._connection = connection
        return self

    def reacquire(self) -> RunLock:
        """After a server restart the lock's connection is gone, and the lock with it: take it again."""
        if self._connection is None:
            return self
        try:
            self._connection.invalidate()
        except Exception:  # already dead: nothing to close
            pass
        self._connection = None
        return self.acquire()

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._connection is not None:
            function = "pg_advisory_unlock_shared" if self.shared else "pg_advisory_unlock"
            self._connection.execute(text(f"SELECT {function}(:key)"), {"key": _ADVISORY_KEY})
            self._connection.commit()
            self._connection.close()
            self._connection = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
