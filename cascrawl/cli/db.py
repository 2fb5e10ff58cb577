"""`cascrawl db`: the schema (Alembic migrations); `db search` is `cascrawl search` under its old name."""

from __future__ import annotations

import sys

from cascrawl.cli.common import DB_HELP, database_url, fail
from cascrawl.cli.inspect import add_search_arguments


def add_commands(commands) -> None:
    db = commands.add_parser("db", help="the database: schema migrations, search")
    db_commands = db.add_subparsers(title="db commands", metavar="DB_COMMAND")

    upgrade = db_commands.add_parser("upgrade", help="migrate the database schema (default: to the newest, head)")
    upgrade.add_argument("--db", metavar="URL", help=DB_HELP)
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    upgrade.set_defaults(handler=_db_upgrade_command)

    current = db_commands.add_parser("current", help="print the database's schema revision and whether it is up to date")
    current.add_argument("--db", metavar="URL", help=DB_HELP)
    current.set_defaults(handler=_db_current_command)

    search = db_commands.add_parser("search", help="the same as `cascrawl search` (an alias, kept for scripts)")
    add_search_arguments(search)

    db.set_defaults(handler=lambda args, parser: (db.print_help(), 2)[1])


def _db_upgrade_command(args, parser) -> int:
    from cascrawl.db import Database, DatabaseError
    from cascrawl.redact import safe_url

    try:
        database = Database(database_url(args))
        try:
            before, after = database.upgrade(args.revision)
        finally:
            database.close()
    except DatabaseError as error:
        fail(error)
        return 1
    where = safe_url(database.url)
    if before == after:
        print(f"{where}: schema already at {after or 'base'}")
    else:
        print(f"{where}: schema upgraded from {before or 'empty'} to {after}")
    return 0


def _db_current_command(args, parser) -> int:
    """Exit 0 when the schema is at head, 3 when it is behind or empty, 1 when it cannot be read."""
    from cascrawl.db import Database, DatabaseError
    from cascrawl.redact import safe_url

    try:
        database = Database(database_url(args))
        if database.engine.dialect.name == "sqlite":
            database.require_file()
        try:
            state = database.schema_state()
        finally:
            database.close()
    except DatabaseError as error:
        fail(error)
        return 1
    print(f"{safe_url(database.url)}: {state.describe()}")
    return 0 if state.up_to_date else 3

