"""Alembic plumbing: where the migrations are, which revision a database is at, upgrading it.

The schema of a database is always made by the migrations (cascrawl/db/migrations/versions), never
by `create_all`, so that every database has a revision and can follow later schema changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from cascrawl.db import fulltext

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _migrations_directory() -> str:
    """The migrations as a real directory. Alembic reads files; inside a zipped egg (a Scrapyd deploy)
    they are copied out once to a temporary directory."""
    if MIGRATIONS.is_dir():
        return str(MIGRATIONS)
    global _EXTRACTED
    if _EXTRACTED is None:
        import atexit
        import shutil
        import tempfile
        from importlib.resources import files

        target = Path(tempfile.mkdtemp(prefix="cascrawl-migrations-"))
        atexit.register(shutil.rmtree, target, ignore_errors=True)

        def copy(source, destination: Path) -> None:
            destination.mkdir(exist_ok=True)
            for entry in source.iterdir():
                if entry.is_dir():
                    copy(entry, destination / entry.name)
                elif entry.name.endswith((".py", ".mako")):
                    (destination / entry.name).write_bytes(entry.read_bytes())

        copy(files("cascrawl.db.migrations"), target)
        _EXTRACTED = str(target)
    return _EXTRACTED


_EXTRACTED: str | None = None


def alembic_config(connection: Connection | None = None) -> Config:
    """The configuration `alembic.ini` would give, built in code (works from an installed package too)."""
    config = Config()
    config.set_main_option("script_location", _migrations_directory())
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def include_name(name: str | None, type_: str, parent_names) -> bool:
    """Objects autogenerate must not compare: full-text search is made by hand (migrations 0002, 0007, 0009)."""
    if type_ == "table" and name and name.startswith(fulltext.FTS_TABLE):
        return False  # the FTS5 table and its shadow tables (articles_fts_data, …)
    if type_ == "index" and (name in fulltext.TRIGRAM_INDEXES or name == fulltext.PG_DOCUMENTS_INDEX):
        return False
    return True


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "cascrawl ships no migrations"
    return head


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands against this cascrawl's migrations."""

    current: str | None  # the revision in alembic_version, None if none
    head: str
    has_tables: bool  # cascrawl's tables are there (with or without a revision)
    known: bool  # `current` is one of this cascrawl's revisions

    @property
    def empty(self) -> bool:
        return self.current is None and not self.has_tables

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def behind(self) -> bool:
        return self.current is not None and self.known and self.current != self.head

    @property
    def unversioned(self) -> bool:
        """Tables made by a cascrawl from before migrations (create_all), without a revision."""
        return self.current is None and self.has_tables

    def describe(self) -> str:
        if self.empty:
            return f"empty (no cascrawl tables); this cascrawl's schema is {self.head}"
        if self.unversioned:
            return "cascrawl tables without a migration revision (made before migrations existed)"
        if self.up_to_date:
            return f"{self.current} (head): up to date"
        if self.behind:
            return f"{self.current}, behind head {self.head}: run `cascrawl db upgrade`"
        return f"{self.current}: unknown to this cascrawl (head {self.head}); a newer cascrawl made it"


def schema_state(connection: Connection) -> SchemaState:
    current = MigrationContext.configure(connection).get_current_revision()
    script = ScriptDirectory.from_config(alembic_config())
    known = current is None or current in {revision.revision for revision in script.walk_revisions()}
    return SchemaState(
        current=current,
        head=head_revision(),
        has_tables=inspect(connection).has_table("articles"),
        known=known,
    )


# pg_advisory_xact_lock key of schema migrations ("cascmigr"), apart from the run lock's.
_MIGRATION_LOCK = int.from_bytes(b"cascmigr", "big") & 0x7FFFFFFFFFFFFFFF


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to `revision` in one connection (one transaction on PostgreSQL). On
    PostgreSQL one migration at a time: the workers of a distributed crawl started together on an empty
    database wait for the first, then find the schema made."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)
