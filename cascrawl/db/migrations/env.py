"""Alembic environment of cascrawl.

Two ways in:
- `cascrawl db upgrade` / `Database.open()` hand over an open connection (config.attributes["connection"]);
- the `alembic` command (alembic.ini at the repository root) builds an engine from, in this order,
  `-x db=URL`, `sqlalchemy.url` in alembic.ini, the environment variable CASCRAWL_DATABASE_URL,
  else sqlite:///cascrawl.db — the same default as a crawl.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from cascrawl.db.migrate import include_name
from cascrawl.db.models import Base
from cascrawl.db.engine import normalize_url

config = context.config
if config.config_file_name is not None:  # the `alembic` command: log as alembic.ini says
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = Base.metadata


def _url() -> str:
    return normalize_url(
        context.get_x_argument(as_dictionary=True).get("db")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("CASCRAWL_DATABASE_URL")
        or "sqlite:///cascrawl.db"
    )


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: batch mode copies the table
        compare_type=True,
        include_name=include_name,  # full-text search objects are managed by hand, not by autogenerate
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
