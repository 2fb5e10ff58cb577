"""`cascrawl db`: the schema (Alembic migrations) and a look inside."""

from __future__ import annotations

import sys

from cascrawl.cli.common import DB_HELP, database_url


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

    search = db_commands.add_parser("search", help="find articles whose title or text contains the words (Chinese too)")
    search.add_argument("query", help="words, all required, e.g. 脑机接口")
    search.add_argument("--db", metavar="URL", help=DB_HELP)
    search.add_argument("--limit", type=int, default=20, metavar="N", help="at most N articles (default: 20)")
    search.set_defaults(handler=_db_search_command)

    db.set_defaults(handler=lambda args, parser: (db.print_help(), 2)[1])


def _db_upgrade_command(args, parser) -> int:
    from cascrawl.db import Database, DatabaseError, safe_url

    try:
        database = Database(database_url(args))
        try:
            before, after = database.upgrade(args.revision)
        finally:
            database.close()
    except DatabaseError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    where = safe_url(database.url)
    if before == after:
        print(f"{where}: schema already at {after or 'base'}")
    else:
        print(f"{where}: schema upgraded from {before or 'empty'} to {after}")
    return 0


def _db_current_command(args, parser) -> int:
    """Exit 0 when the schema is at head, 3 when it is behind or empty, 1 when it cannot be read."""
    from cascrawl.db import Database, DatabaseError, safe_url

    try:
        database = Database(database_url(args))
        if database.engine.dialect.name == "sqlite":
            database.require_file()
        try:
            state = database.schema_state()
        finally:
            database.close()
    except DatabaseError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    print(f"{safe_url(database.url)}: {state.describe()}")
    return 0 if state.up_to_date else 3


def _db_search_command(args, parser) -> int:
    from cascrawl.db import Database, DatabaseError

    try:
        database = Database(database_url(args)).open(create=False)
    except DatabaseError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    try:
        hits = database.search(args.query, limit=max(1, args.limit))
    finally:
        database.close()
    sys.stdout.reconfigure(encoding="utf-8")
    for hit in hits:
        print(f"{hit['published_date']}  {hit['title']}\n    {hit['url']}\n    {hit['snippet']}")
    print(f"{len(hits)} article(s) found", file=sys.stderr)
    return 0
