"""Which failed writes are waited for and which are not (cascrawl.db.store.error_kind), on errors raised
for real by SQLite and PostgreSQL: a lock held by another writer and a lost server are ridden out; a
full disk, a read-only database, a refused permission and a corrupt file are not."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from cascrawl.db.engine import LOCKED, OUTAGE, REFUSED, STORAGE, error_kind

from .db_backends import postgres_server  # noqa: F401  (fixture)
from .test_storage_faults import small_disk  # noqa: F401  (fixture)


def _failure(engine, statement: str, *before: str) -> SQLAlchemyError:
    with pytest.raises(SQLAlchemyError) as caught:
        with engine.begin() as connection:
            for sql in before:
                connection.execute(text(sql))
            connection.execute(text(statement))
    return caught.value


def _sqlite(path, **options):
    return create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.1, **options})


def test_sqlite_locked_by_another_writer_is_ridden_out(tmp_path):
    database = tmp_path / "c.db"
    with sqlite3.connect(database) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute("CREATE TABLE t (x)")
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        error = _failure(_sqlite(database), "INSERT INTO t VALUES (1)")
    finally:
        holder.execute("ROLLBACK")
    assert error_kind(error) == (LOCKED, "locked by another writer")


def test_sqlite_read_only_and_corrupt_files_are_not_waited_for(tmp_path):
    database = tmp_path / "c.db"
    with sqlite3.connect(database) as setup:
        setup.execute("CREATE TABLE t (x)")
    read_only = create_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    assert error_kind(_failure(read_only, "INSERT INTO t VALUES (1)")) == (STORAGE, "read-only")
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database file, but garbage" * 200)
    assert error_kind(_failure(_sqlite(corrupt), "SELECT * FROM t"))[0] == STORAGE
    missing_folder = tmp_path / "no" / "such" / "folder" / "c.db"
    assert error_kind(_failure(_sqlite(missing_folder), "SELECT 1")) == (STORAGE, "cannot open the database file")


def test_sqlite_on_a_full_disk_is_not_waited_for(tmp_path, small_disk):  # noqa: F811
    disk = small_disk("disk", "1m")
    database = disk / "c.db"
    with sqlite3.connect(database) as setup:
        setup.execute("CREATE TABLE t (x)")
    subprocess.run(["dd", "if=/dev/zero", f"of={disk / 'filler'}", "bs=64k"], capture_output=True)
    error = _failure(_sqlite(database), "INSERT INTO t SELECT randomblob(100000) FROM (SELECT 1 UNION SELECT 2)")
    assert error_kind(error) == (STORAGE, "disk full")


def test_a_row_refused_by_a_constraint_is_neither(tmp_path):
    database = tmp_path / "c.db"
    with sqlite3.connect(database) as setup:
        setup.execute("CREATE TABLE t (x NOT NULL)")
    assert error_kind(_failure(_sqlite(database), "INSERT INTO t VALUES (NULL)"))[0] == REFUSED


def test_postgresql_kinds(postgres_server):  # noqa: F811
    url = postgres_server.create_database()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x int)"))
        read_only = _failure(engine, "INSERT INTO t VALUES (1)", "SET TRANSACTION READ ONLY")
        assert error_kind(read_only) == (STORAGE, "read-only")
        refused = _failure(engine, "INSERT INTO t VALUES (1)", "CREATE ROLE cascrawl_nobody_test",
                           "SET LOCAL ROLE cascrawl_nobody_test")
        assert error_kind(refused) == (STORAGE, "permission denied")
        assert error_kind(_failure(engine, "INSERT INTO t VALUES ('x')"))[0] == REFUSED
        gone = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
        assert error_kind(_failure(gone, "SELECT 1")) == (OUTAGE, "unreachable")
    finally:
        engine.dispose()
        postgres_server.drop_database(url)
