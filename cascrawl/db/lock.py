"""One crawl at a time per database: a lock that the operating system or the server releases when
the process holding it dies, so a crashed run never blocks the next one.

SQLite: an exclusive `flock` on `<database file>.lock` (released when the process exits).
PostgreSQL: a session advisory lock held by one open connection (released when it closes). The
workers of a distributed crawl (cascrawl/distributed/) share one run: each holds the lock in shared
mode, so they run side by side while a lone run (exclusive) is refused, and the other way round.
"""

from __future__ import annotations

import fcntl
import os
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from cascrawl.db.database import Database
from cascrawl.redact import safe_url

# pg_advisory_lock key: "cascrawl" as a number, so other applications' locks do not collide with ours.
_ADVISORY_KEY = int.from_bytes(b"cascrawl", "big") & 0x7FFFFFFFFFFFFFFF


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
            path = Path(database).with_name(Path(database).name + ".lock")
            handle = open(path, "a+", encoding="utf-8")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
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
