"""Both database backends as pytest fixtures: a fresh SQLite file, a fresh PostgreSQL database.

PostgreSQL: the server named by CASCRAWL_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres, any database on it; the user must be allowed
to CREATE DATABASE). Each test gets a database of its own, `cascrawl_test_<run>_<n>`, dropped after
it. No server: the PostgreSQL tests skip, saying why; under CI (CI=true) they fail instead, since a
skip there would hide that PostgreSQL was never tested.

Import the fixtures into a test module: `from .db_backends import db_url, postgres_server  # noqa: F401`.
"""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cascrawl.db import normalize_url, safe_url

POSTGRES_URL_VARIABLE = "CASCRAWL_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", "postgresql"]


class PostgresServer:
    """Creates and drops throw-away databases on one server."""

    def __init__(self, url: str):
        self.url = make_url(normalize_url(url))
        self.engine = create_engine(self.url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        self.prefix = f"cascrawl_test_{secrets.token_hex(4)}"
        self.count = 0

    def check(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def create_database(self) -> str:
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        with self.engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        assert name and name.startswith(self.prefix), name
        with self.engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_leftovers(self) -> None:
        with self.engine.connect() as connection:
            names = connection.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :prefix"), {"prefix": self.prefix + "%"}
            ).scalars().all()
            for name in names:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres_server():
    url = os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)
    server = PostgresServer(url)
    try:
        server.check()
    except Exception as error:  # not reachable, wrong credentials, no driver: all mean "no PostgreSQL here"
        lines = str(getattr(error, "orig", None) or error).strip().splitlines()
        reason = (f"PostgreSQL server not usable at {safe_url(url)} ({lines[0] if lines else type(error).__name__}); "
                  f"set {POSTGRES_URL_VARIABLE} to a server where this user may CREATE DATABASE")
        server.engine.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    yield server
    server.drop_leftovers()


def fresh_database(backend: str, request, tmp_path) -> str:
    """A URL to an empty database of `backend`, removed when the test ends."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'cascrawl.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    request.addfinalizer(lambda: server.drop_database(url))
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    return fresh_database(request.param, request, tmp_path)
