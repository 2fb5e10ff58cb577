"""The schema of a database: open it (create it, or upgrade it, under a lock two workers share), read its
state, upgrade it, and the refusals an operator reads when it is not usable. Migrations: cascrawl/db/migrate.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from cascrawl.db import migrate
from cascrawl.db.engine import Connected, DatabaseError, error_line, safe_url


logger = logging.getLogger(__name__)

# What running the migrations can raise: the database's errors, Alembic's (an unknown or older target
# revision), and the migrations' own (RuntimeError: no pg_trgm on the server).
MIGRATION_ERRORS = (SQLAlchemyError, CommandError, RuntimeError)
# pg_advisory_lock key of schema creation: "cascrawl-schema" as a number (the run lock has its own, db/lock.py).
SCHEMA_LOCK_KEY = int.from_bytes(b"cascrawl-schema", "big") & 0x7FFFFFFFFFFFFFFF


def open_schema(database: Connected, create: bool = True, auto_upgrade: bool = False) -> None:
    """Connect once and check the schema; fails fast (DatabaseError), before any page is fetched.

    create=True (a crawl): an empty database gets the schema (migrations up to head); a schema
    that is behind is upgraded only with auto_upgrade, else refused with the command to run.
    create=False (readers such as export): a database without cascrawl's tables is an error, and
    a missing SQLite file is not silently created. Either way the schema must end up at head.
    """
    try:
        if not create:
            require_file(database)
        with schema_lock(database.engine):  # two workers opening one new database: one creates, the other waits
            _open(database, create, auto_upgrade)
    except MIGRATION_ERRORS as error:
        raise DatabaseError(f"cannot open database {safe_url(database.url)}: {error_line(error, database.url)}") from None


@contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, a session advisory lock of its own around looking at and creating the schema:
    without it a second worker saw the first one's tables before its revision (and refused them)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY})
            connection.commit()


def _open(database: Connected, create: bool, auto_upgrade: bool) -> None:
    with database.engine.connect() as connection:
        state = migrate.schema_state(connection)
    if state.up_to_date:
        return
    if state.empty and create:
        migrate.upgrade(database.engine)
        logger.info("created the cascrawl schema (revision %s) in %s", state.head, safe_url(database.url))
        return
    if state.behind and create and auto_upgrade:
        migrate.upgrade(database.engine)
        logger.warning("upgraded the database schema from %s to %s", state.current, state.head)
        return
    raise DatabaseError(refusal(database.url, state))


def refusal(url: str, state: migrate.SchemaState) -> str:
    """Why a database of this schema state cannot be used, and what to do, in one line."""
    where = safe_url(url)
    if state.empty:
        return f"database {where} has no cascrawl tables (run `cascrawl crawl` first)"
    if state.unversioned:
        return (f"database {where} has cascrawl tables but no migration revision (made by a cascrawl from "
                "before migrations): crawl into a new database")
    if state.behind:
        return (f"database {where} has schema revision {state.current}, this cascrawl needs {state.head}: "
                f"run `cascrawl db upgrade --db URL` (or set CASCRAWL_DB_AUTO_UPGRADE=True)")
    return (f"database {where} has schema revision {state.current}, unknown to this cascrawl "
            f"(head {state.head}): it was made by a newer cascrawl")


def require_file(database: Connected) -> None:
    """A SQLite database file that is not there is an error for a reader (never created by looking)."""
    name = database.engine.url.database
    if database.engine.dialect.name == "sqlite" and name not in (None, "", ":memory:"):
        if not name.startswith("file:") and not Path(name).is_file():
            raise DatabaseError(f"no database file at {name} (run `cascrawl crawl` or `cascrawl demo` first)")


def schema_state(database: Connected) -> migrate.SchemaState:
    try:
        with database.engine.connect() as connection:
            return migrate.schema_state(connection)
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot open database {safe_url(database.url)}: {error_line(error, database.url)}") from None


def upgrade(database: Connected, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to `revision`; returns (revision before, revision after)."""
    try:
        before = schema_state(database)
        if before.unversioned:
            raise DatabaseError(refusal(database.url, before))
        migrate.upgrade(database.engine, revision)
        return before.current, schema_state(database).current
    except MIGRATION_ERRORS as error:
        raise DatabaseError(f"cannot upgrade database {safe_url(database.url)}: {error_line(error, database.url)}") from None
