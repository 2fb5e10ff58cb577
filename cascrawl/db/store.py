"""The database: the only module that speaks SQL. Functions take and return plain data.

Schema: cascrawl/db/models.py, made by the migrations in cascrawl/db/migrations; contract for
readers: docs/schema.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from alembic.util import CommandError
from sqlalchemy import (
    Integer, and_, any_, case, cast, column, create_engine, event, false, func, literal, or_, select, table, text,
    union_all, update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError, DataError, DBAPIError, IntegrityError, InterfaceError, NoSuchModuleError, OperationalError,
    SQLAlchemyError, StatementError,
)
from sqlalchemy.orm import Session, aliased

from cascrawl.db import fulltext, migrate
from cascrawl.db.models import Article, ArticleRevision, AwareDateTime, CrawlRun, Reject, RunWorker

logger = logging.getLogger(__name__)

# What an article row is made of, besides its identity (id, url) and its timestamps.
_CONTENT_COLUMNS = (
    "fetched_url", "docid", "section", "title", "published_date", "published_at", "source", "author", "editor",
    "text", "html", "attachments", "images", "videos", "content_hash", "script", "template", "provenance",
)
# HTTP validators of the last fetch: kept current on the row, not archived with revisions.
_VALIDATOR_COLUMNS = ("etag", "last_modified")
# Compared one by one to tell a refresh from an unchanged row; title and text are covered by content_hash.
_COMPARED_COLUMNS = tuple(column for column in _CONTENT_COLUMNS if column not in ("title", "text")) + _VALIDATOR_COLUMNS
# What the export contract (docs/export.md) carries besides url, title and text (content_hash) and the timestamps:
# a change to one of these alone moves updated_at, so that a downstream client following the change cursor sees it.
CONTRACT_METADATA_COLUMNS = (
    "section", "published_date", "published_at", "source", "author", "editor", "attachments", "images", "videos",
)
# Copied into article_revisions when the content changes.
_ARCHIVED_COLUMNS = ("url", *_CONTENT_COLUMNS, "updated_at", "last_seen_at")
# SQLite allows 32766 bound parameters per statement (999 before 3.32): IN lists go in chunks.
_CHUNK = 500
# The FTS5 table (SQLite), made by migration 0002: not a model, the ORM never writes it.
_FTS = table(fulltext.FTS_TABLE, column("rowid"), column(fulltext.FTS_TABLE))
_FTS_PENDING = table(fulltext.PENDING_TABLE, column("id"))  # migrations 0007 (SQLite), 0009 (PostgreSQL): stored, not indexed yet
# PostgreSQL (migration 0009_pg_search_deferred): the indexed copy of title and text, under a trigram index.
_FTS_DOCUMENTS = table(fulltext.PG_DOCUMENTS_TABLE, column("id"), column("document"))


# What running the migrations can raise: the database's errors, Alembic's (an unknown or older target
# revision), and the migrations' own (RuntimeError: no pg_trgm on the server).
_MIGRATION_ERRORS = (SQLAlchemyError, CommandError, RuntimeError)
# pg_advisory_lock key of schema creation: "cascrawl-schema" as a number (the run lock has its own, db/lock.py).
_SCHEMA_LOCK_KEY = int.from_bytes(b"cascrawl-schema", "big") & 0x7FFFFFFFFFFFFFFF


class DatabaseError(Exception):
    """A database that cannot be used; the message is one line and never shows a password."""


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 (the driver cascrawl installs), not psycopg2."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return url  # reported by Database()
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    return url


def safe_url(url: str | URL) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"


@dataclass
class UpsertResult:
    """What one upsert did, row by row."""

    inserted: int = 0  # new articles
    revised: int = 0  # content changed: revision + 1, the previous version archived
    refreshed: int = 0  # same content, other fields changed (editor, images, fetched_url, html, …): updated in place
    unchanged: int = 0  # only last_seen_at moved
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (url, reason code, detail)

    @property
    def stored(self) -> int:
        return self.inserted + self.revised + self.refreshed + self.unchanged

    def add(self, other: UpsertResult) -> None:
        self.inserted += other.inserted
        self.revised += other.revised
        self.refreshed += other.refreshed
        self.unchanged += other.unchanged
        self.rejected.extend(other.rejected)


def _row_error(error: Exception) -> tuple[str, str] | None:
    """(reason code, one-line detail) when `error` is about one row's values, else None (connection, …)."""
    if isinstance(error, (IntegrityError, DataError)):
        reason = "db_constraint"
    elif isinstance(error, StatementError) and not isinstance(error, DBAPIError):
        reason = "db_invalid_value"  # refused while binding parameters (naive datetime, wrong type)
    else:
        return None
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:500]
    return reason, detail


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


def in_chunks(values: list, size: int = _CHUNK) -> Iterator[list]:
    """`values` in slices short enough for one IN list (SQLite's bound-parameter limit)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


class Database:
    def __init__(self, url: str):
        self.url = normalize_url(url)
        try:
            parsed = make_url(self.url)
            connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
            # pre_ping: after a database outage, pooled connections are dead; test each before use.
            self.engine: Engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
        except (NoSuchModuleError, ImportError) as error:  # NoSuchModuleError is an ArgumentError: first
            raise DatabaseError(f"unsupported database URL {safe_url(url)}: {error}") from None
        except (ArgumentError, ValueError) as error:
            raise DatabaseError(f"malformed database URL {safe_url(url)}: {error}") from None
        self._pg_array_insert_cache: tuple[str, dict[str, Any]] | None = None
        if self.engine.dialect.name not in ("sqlite", "postgresql"):
            self.engine.dispose()
            raise DatabaseError(f"unsupported database backend {self.engine.dialect.name!r} in {safe_url(url)} "
                                "(use SQLite or PostgreSQL)")
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._password = parsed.password

    # --- schema ---

    def open(self, create: bool = True, auto_upgrade: bool = False) -> Database:
        """Connect once and check the schema; fails fast, before any page is fetched.

        create=True (a crawl): an empty database gets the schema (migrations up to head); a schema
        that is behind is upgraded only with auto_upgrade, else refused with the command to run.
        create=False (readers such as export): a database without cascrawl's tables is an error, and
        a missing SQLite file is not silently created. Either way the schema must end up at head.
        """
        try:
            if not create:
                self.require_file()
            with self._schema_lock():  # two workers opening one new database: one creates, the other waits
                return self._open_schema(create, auto_upgrade)
        except _MIGRATION_ERRORS as error:
            raise DatabaseError(f"cannot open database {safe_url(self.url)}: {self.error_line(error)}") from None

    @contextmanager
    def _schema_lock(self) -> Iterator[None]:
        """On PostgreSQL, a session advisory lock of its own around looking at and creating the schema:
        without it a second worker saw the first one's tables before its revision (and refused them)."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _SCHEMA_LOCK_KEY})
                connection.commit()

    def _open_schema(self, create: bool, auto_upgrade: bool) -> Database:
        with self.engine.connect() as connection:
            state = migrate.schema_state(connection)
        if state.up_to_date:
            return self
        if state.empty and create:
            migrate.upgrade(self.engine)
            logger.info("created the cascrawl schema (revision %s) in %s", state.head, safe_url(self.url))
            return self
        if state.behind and create and auto_upgrade:
            migrate.upgrade(self.engine)
            logger.warning("upgraded the database schema from %s to %s", state.current, state.head)
            return self
        raise DatabaseError(self._refusal(state))

    def _refusal(self, state: migrate.SchemaState) -> str:
        where = safe_url(self.url)
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

    def require_file(self) -> None:
        database = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
            if not database.startswith("file:") and not Path(database).is_file():
                raise DatabaseError(f"no database file at {database} (run `cascrawl crawl` or `cascrawl demo` first)")

    def error_line(self, error: Exception) -> str:
        """The first line of a database error, without the password."""
        lines = str(getattr(error, "orig", None) or error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        if self._password:
            reason = reason.replace(self._password, "***")
        return reason

    def schema_state(self) -> migrate.SchemaState:
        try:
            with self.engine.connect() as connection:
                return migrate.schema_state(connection)
        except SQLAlchemyError as error:
            raise DatabaseError(f"cannot open database {safe_url(self.url)}: {self.error_line(error)}") from None

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Migrate to `revision`; returns (revision before, revision after)."""
        try:
            before = self.schema_state()
            if before.unversioned:
                raise DatabaseError(self._refusal(before))
            migrate.upgrade(self.engine, revision)
            return before.current, self.schema_state().current
        except _MIGRATION_ERRORS as error:
            raise DatabaseError(f"cannot upgrade database {safe_url(self.url)}: {self.error_line(error)}") from None

    def close(self) -> None:
        self.engine.dispose()

    # --- writes ---

    def upsert_articles(self, rows: Iterable[dict[str, Any]], seen_at: datetime | None = None,
                        run_id: int | None = None) -> UpsertResult:
        """Store a batch of articles by canonical url, in one transaction.

        New url: inserted (revision 1). Same content_hash: the row keeps its revision; other changed fields
        are refreshed in place, and updated_at moves when one of them is in the export contract (source,
        author, editor, images, …); last_seen_at always moves. Different content_hash: the stored version
        is copied to article_revisions, then replaced; revision + 1, updated_at moves.
        A row the database refuses (constraint, bad value) is retried alone, recorded in `rejects`
        (with run_id) and left out; the rest of the batch is stored.
        """
        seen_at = seen_at or datetime.now(timezone.utc)
        by_url = {row.get("url"): row for row in rows}  # the last one wins within a batch
        values = [_article_values(row) for row in by_url.values()]
        if not values:
            return UpsertResult()
        try:
            with Session(self.engine) as session, session.begin():
                return self._upsert(session, values, seen_at)
        except SQLAlchemyError as error:
            if _row_error(error) is None:
                raise
        # One row spoiled the batch statement: store row by row, each in its own transaction.
        result = UpsertResult()
        for value in values:
            try:
                with Session(self.engine) as session, session.begin():
                    result.add(self._upsert(session, [value], seen_at))
            except SQLAlchemyError as error:
                found = _row_error(error)
                if found is None:
                    raise
                result.rejected.append((value.get("url") or value.get("fetched_url") or "", *found))
        if result.rejected:
            logger.warning("%d article(s) refused by the database, recorded in rejects: %s", len(result.rejected),
                           "; ".join(f"{url}: {detail}" for url, _, detail in result.rejected[:3]))
            self.add_rejects([{"url": url, "reason": reason, "detail": detail, "seen_at": seen_at}
                              for url, reason, detail in result.rejected], run_id=run_id)
        return result

    def _upsert(self, session: Session, values: list[dict[str, Any]], seen_at: datetime) -> UpsertResult:
        result = UpsertResult()
        existing = self._existing_rows(session, [value["url"] for value in values])
        self._update_existing(session, [value for value in values if value["url"] in existing], existing, seen_at, result)
        new = [value for value in values if value["url"] not in existing]
        if new:
            # PostgreSQL: one array per column (_insert_pg_arrays). SQLite: RETURNING makes SQLAlchemy send
            # multi-row INSERTs ("insertmanyvalues", SQL compiled once) instead of one statement per row:
            # SQLite's FTS5 flushes its index at every statement that fires the sync trigger, so one statement
            # per row was 2.5x slower (scripts/bench_storage.py).
            rows = [{**value, "first_seen_at": seen_at, "last_seen_at": seen_at, "updated_at": seen_at, "revision": 1}
                    for value in new]
            inserted = self._insert_pg_arrays(session, rows) if self.engine.dialect.name == "postgresql" else None
            if inserted is None:
                inserted = set(session.execute(self._insert_statement().returning(Article.__table__.c.url), rows).scalars())
            result.inserted = len(inserted)
            # Another crawl inserted some of these URLs between our SELECT and our INSERT: they are existing
            # rows now, and get the same treatment as any other (archive, revision, updated_at rules).
            raced = [value for value in new if value["url"] not in inserted]
            if raced:
                logger.info("%d article(s) were inserted by another writer meanwhile: updated instead", len(raced))
                again = self._existing_rows(session, [value["url"] for value in raced])
                self._update_existing(session, raced, again, seen_at, result)
        return result

    def _existing_rows(self, session: Session, urls: list[str]) -> dict[str, Any]:
        """The stored rows of these URLs (what the upsert compares), locked on PostgreSQL."""
        existing = {}
        for chunk in in_chunks(urls):
            query = select(Article.id, Article.url, Article.revision, *(getattr(Article, name) for name in _COMPARED_COLUMNS))
            query = query.where(Article.url.in_(chunk))
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update()  # a concurrent crawl waits instead of racing the revision
            existing.update((row.url, row) for row in session.execute(query))
        return existing

    def _update_existing(self, session: Session, values: list[dict[str, Any]], existing: dict[str, Any],
                         seen_at: datetime, result: UpsertResult) -> None:
        """Rows whose URL is stored: revised (archived first), refreshed in place (updated_at moved when the
        export contract sees the change), or only seen again."""
        revised, refreshed, refreshed_quietly, unchanged = [], [], [], []
        for value in values:
            old = existing[value["url"]]
            if old.content_hash != value["content_hash"]:
                revised.append({"id": old.id, **value, "revision": old.revision + 1,
                                "updated_at": seen_at, "last_seen_at": seen_at})
            elif any(getattr(old, name) != value[name] for name in CONTRACT_METADATA_COLUMNS):
                refreshed.append({"id": old.id, **value, "updated_at": seen_at, "last_seen_at": seen_at})
            elif any(getattr(old, name) != value[name] for name in _COMPARED_COLUMNS):
                # fetched_url, html, template, provenance, validators: not in the contract, the cursor stays
                refreshed_quietly.append({"id": old.id, **value, "last_seen_at": seen_at})
            else:
                unchanged.append(old.id)

        if revised:
            # The stored version goes to the archive first, in this same transaction.
            archived = [getattr(Article, name) for name in _ARCHIVED_COLUMNS]
            for chunk in in_chunks([row["id"] for row in revised]):
                session.execute(
                    ArticleRevision.__table__.insert().from_select(
                        ["article_id", "revision", *_ARCHIVED_COLUMNS, "replaced_at"],
                        select(Article.id, Article.revision, *archived, literal(seen_at, AwareDateTime()))
                        .where(Article.id.in_(chunk)),
                    )
                )
            session.execute(update(Article), revised)  # ORM bulk UPDATE by primary key
        for batch in (refreshed, refreshed_quietly):  # one key set per executemany
            if batch:
                session.execute(update(Article), batch)
        for chunk in in_chunks(unchanged):
            session.execute(update(Article).where(Article.id.in_(chunk)).values(last_seen_at=seen_at))
        result.revised += len(revised)
        result.refreshed += len(refreshed) + len(refreshed_quietly)
        result.unchanged += len(unchanged)

    def _insert_pg_arrays(self, session: Session, rows: list[dict[str, Any]]) -> set[str] | None:
        """PostgreSQL: the rows as one array per column, unnested by one short statement (INSERT … SELECT FROM
        unnest(…) ON CONFLICT (url) DO NOTHING RETURNING url); the URLs inserted. The multi-row VALUES that
        SQLAlchemy sends instead has 25 placeholders per row, which psycopg parses again for every batch
        (too long for its cache): measured 0.1 ms per article of a first insert. Each value goes through the
        column type's own bind processing (JSON, aware datetimes), as with the ORM; a value that processing
        refuses (a naive datetime) returns None, and the caller's usual statement reports it."""
        statement, processors = self._pg_array_insert()
        try:
            columns = {name: [process(row[name]) for row in rows] if process else [row[name] for row in rows]
                       for name, process in processors.items()}
        except (ValueError, TypeError):
            return None
        return set(session.connection().exec_driver_sql(statement, columns).scalars())

    def _pg_array_insert(self) -> tuple[str, dict[str, Any]]:
        if self._pg_array_insert_cache is None:
            dialect = self.engine.dialect
            table_ = Article.__table__
            names = [c.name for c in table_.columns if c.name != "id"]
            # Arrays of the base type, without the length: a cast to varchar(500) would cut a longer value,
            # where the insert into the column refuses it (a db_constraint reject, as before).
            casts = ", ".join(f"%({name})b::{re.sub(r'[(][0-9]+[)]', '', table_.c[name].type.compile(dialect))}[]"
                              for name in names)
            listed = ", ".join(names)
            statement = (f"INSERT INTO articles ({listed}) SELECT {listed} FROM unnest({casts}) WITH ORDINALITY "
                         f"AS v({listed}, n) ORDER BY n ON CONFLICT (url) DO NOTHING RETURNING url")
            processors = {name: table_.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names}
            self._pg_array_insert_cache = statement, processors
        return self._pg_array_insert_cache

    def _insert_statement(self):
        """INSERT … ON CONFLICT (url) DO NOTHING: a row another crawl inserted meanwhile is neither duplicated
        nor overwritten here; its URL is missing from RETURNING, and _upsert updates it like any stored row
        (archiving the version it replaces)."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(Article.__table__)  # Core: the ORM bulk path costs ~40% more per row
        return statement.on_conflict_do_nothing(index_elements=[Article.url])

    def add_rejects(self, rows: list[dict[str, Any]], run_id: int | None = None) -> None:
        """Rows of url, reason (code), detail, seen_at (aware)."""
        if not rows:
            return
        with Session(self.engine) as session, session.begin():
            session.add_all(Reject(run_id=run_id, **row) for row in rows)

    def start_run(self, *, base_url: str | None, sections: list[str], settings: dict[str, Any],
                  started_at: datetime | None = None, log_file: str | None = None) -> int:
        with Session(self.engine) as session, session.begin():
            run = CrawlRun(started_at=started_at or datetime.now(timezone.utc), status="running",
                           base_url=base_url, sections=list(sections), settings=settings, log_file=log_file)
            session.add(run)
            session.flush()
            return run.id

    def finish_run(self, run_id: int, *, status: str, reason: str | None, stats: dict[str, Any] | None,
                   coverage: dict[str, Any] | None = None, finished_at: datetime | None = None) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(CrawlRun).where(CrawlRun.id == run_id).values(
                    status=status, reason=reason, stats=stats, coverage=coverage,
                    finished_at=finished_at or datetime.now(timezone.utc))
            )

    def sync_search(self) -> int:
        """Bring the full-text index up to date: index the articles stored (or whose title or text changed)
        since the last sync, in one statement; returns how many. Search finds them before too (it scans
        them), only slower."""
        with self.engine.begin() as connection:
            if self.engine.dialect.name == "sqlite":
                return fulltext.sync_sqlite_fts(connection) if fulltext.sqlite_fts_deferred(connection) else 0
            return fulltext.sync_pg_search(connection) if fulltext.pg_search_deferred(connection) else 0

    # --- distributed runs: one run record, several workers ---

    def rejoin_run(self, run_id: int) -> bool:
        """A worker joins a distributed run (False: no such run here). A run that all workers had left
        (stopped, or interrupted when they were killed) is running again."""
        with Session(self.engine) as session, session.begin():
            run = session.get(CrawlRun, run_id)
            if run is None:
                return False
            if run.status != "running":
                run.status, run.finished_at, run.reason = "running", None, None
            return True

    def add_worker(self, run_id: int, worker: str) -> int:
        with Session(self.engine) as session, session.begin():
            row = RunWorker(run_id=run_id, worker=worker[:200], started_at=datetime.now(timezone.utc), status="running")
            session.add(row)
            session.flush()
            return row.id

    def finish_worker(self, worker_id: int, *, status: str, reason: str | None, stats: dict[str, Any] | None) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(update(RunWorker).where(RunWorker.id == worker_id).values(
                status=status, reason=reason, stats=stats, finished_at=datetime.now(timezone.utc)))

    def interrupt_workers(self, run_id: int) -> int:
        """Workers of a run still `running` when its last worker closes it were killed."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(update(RunWorker).where(RunWorker.run_id == run_id, RunWorker.status == "running")
                                     .values(status="interrupted", reason="the process ended without closing (killed?)"))
            return result.rowcount or 0

    def run_workers(self, run_id: int) -> list[dict[str, Any]]:
        with Session(self.engine) as session:
            rows = session.scalars(select(RunWorker).where(RunWorker.run_id == run_id).order_by(RunWorker.id))
            return [{"worker": row.worker, "status": row.status, "reason": row.reason, "started_at": row.started_at,
                     "finished_at": row.finished_at, "stats": row.stats} for row in rows]

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

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            run = session.get(CrawlRun, run_id)
            return None if run is None else {c.key: getattr(run, c.key) for c in CrawlRun.__table__.columns}

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Articles whose title or text contains every whitespace-separated term of `query`.

        Terms of three characters or more go through the trigram index (SQLite FTS5, PostgreSQL
        pg_trgm); shorter ones are matched with (I)LIKE. Title matches first, then newest first.
        """
        terms = [term for term in query.split() if term]
        if not terms or "\x00" in query:  # no stored title or text holds a NUL (nor can PostgreSQL be sent one)
            return []
        with Session(self.engine) as session:
            conditions = search_conditions(session, query)
            in_title = Article.title.ilike(_like_pattern(terms[0]), escape="\\")
            statement = (
                select(Article.id, Article.url, Article.section, Article.title, Article.published_date, Article.text)
                .where(*conditions)
                .order_by(case((in_title, 0), else_=1), Article.published_date.desc(), Article.id.desc())
                .limit(limit)
            )
            return [
                {"url": row.url, "section": row.section, "title": row.title, "published_date": row.published_date,
                 "snippet": _snippet(row.title, row.text, terms)}
                for row in session.execute(statement)
            ]


def search_conditions(session: Session, query: str) -> list:
    """The matching rule of search, for any query over articles: every whitespace-separated term in
    the title or the text. Terms of three characters or more use the trigram index (SQLite FTS5;
    PostgreSQL pg_trgm serves ILIKE), shorter ones a (I)LIKE scan."""
    terms = [term for term in query.split() if term]
    if "\x00" in query:
        # No stored title or text holds a NUL character; FTS5 cannot quote one, PostgreSQL cannot be sent one.
        return [false()]
    long_terms = [term for term in terms if len(term) >= fulltext.MIN_TRIGRAM_TERM]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql" and long_terms:
        # text is stored out of line (TOAST), so the planner thinks a sequential scan is cheap and
        # skips the trigram indexes: measured 240 ms against a few ms on 5,000 articles.
        session.execute(text("SET LOCAL enable_seqscan = off"))
    sqlite_fts = bool(dialect == "sqlite" and long_terms and fulltext.sqlite_fts_present(session.connection()))
    conditions = []
    if dialect == "postgresql" and long_terms and fulltext.pg_search_deferred(session.connection()):
        # The trigram index over the indexed copies, and a scan of the articles not indexed yet (since the
        # last sync: usually none, or one running crawl's worth), looked up by id: `id = ANY((SELECT
        # array_agg(id) …))`, an array computed once, so the plan fetches those few by primary key (joined
        # with the pending table, the planner guessed from stale statistics and tested every article's
        # text: 200 ms on 5,000 articles, none pending). One statement, one snapshot: an article a sync
        # or an edit moves between the two at that moment is seen on one side.
        indexed = select(_FTS_DOCUMENTS.c.id).where(
            *(_FTS_DOCUMENTS.c.document.ilike(_like_pattern(term), escape="\\") for term in long_terms))
        waiting = cast(select(func.array_agg(_FTS_PENDING.c.id)).scalar_subquery(), ARRAY(Integer))  # an array, not a set
        scanned = aliased(Article)
        found = union_all(indexed, select(scanned.id).where(
            scanned.id == any_(waiting), *(_contains(term, scanned) for term in long_terms)))
        conditions.append(Article.id.in_(found))
        return conditions + [_contains(term) for term in terms if term not in long_terms]
    if sqlite_fts:
        matching = Article.id.in_(
            select(_FTS.c.rowid).where(_FTS.c[fulltext.FTS_TABLE].op("MATCH")(fulltext.fts5_query(long_terms))))
        if fulltext.sqlite_fts_deferred(session.connection()):
            # Articles stored since the last sync are not in the index yet: scanned (usually none, or one
            # running crawl's worth).
            matching = or_(matching, and_(Article.id.in_(select(_FTS_PENDING.c.id)),
                                          *(_contains(term) for term in long_terms)))
        conditions.append(matching)
    for term in terms:
        if not (sqlite_fts and term in long_terms):
            conditions.append(_contains(term))
    return conditions


def _contains(term: str, articles=Article):
    pattern = _like_pattern(term)
    return or_(articles.title.ilike(pattern, escape="\\"), articles.text.ilike(pattern, escape="\\"))


def _article_values(row: dict[str, Any]) -> dict[str, Any]:
    values = {name: row.get(name) for name in _CONTENT_COLUMNS + _VALIDATOR_COLUMNS}
    values["url"] = row.get("url")
    values["attachments"] = list(row.get("attachments") or [])
    values["images"] = list(row.get("images") or [])
    values["videos"] = list(row.get("videos") or [])
    values["provenance"] = dict(row.get("provenance") or {})
    return values


def _like_pattern(term: str) -> str:
    """`%term%` with LIKE's wildcards in the term taken literally (escape character: backslash)."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _snippet(title: str, body: str, terms: list[str], width: int = 40) -> str:
    """The text around the first term found in it, on one line (the start of the text if only the title matched)."""
    lowered = body.lower()
    for term in terms:
        at = lowered.find(term.lower())
        if at >= 0:
            start, end = max(0, at - width), at + len(term) + width
            return ("…" if start else "") + body[start:end].replace("\n", " ") + ("…" if end < len(body) else "")
    return body[:width * 2].replace("\n", " ") + ("…" if len(body) > width * 2 else "")


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
