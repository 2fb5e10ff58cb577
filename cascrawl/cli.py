"""The `cascrawl` command: crawl, demo, export, db."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cascrawl import __version__
from cascrawl.sections import DEFAULT_SECTIONS


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return args.handler(args, parser)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cascrawl", description="Crawl, clean and store the news of www.cas.cn.")
    parser.add_argument("--version", action="version", version=f"cascrawl {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    crawl = commands.add_parser("crawl", help="crawl www.cas.cn (or a copy of it) into the database")
    _add_crawl_options(crawl)
    crawl.add_argument("--base-url", default=None, help="crawl a copy of the site at this URL (default: https://www.cas.cn)")
    crawl.set_defaults(handler=_crawl_command)

    demo = commands.add_parser("demo", help="serve the bundled fixture copy of the site on 127.0.0.1 and crawl it")
    _add_crawl_options(demo)
    demo.set_defaults(handler=_demo_command)

    export = commands.add_parser("export", help="print stored articles, one JSON object per line")
    export.add_argument("--db", metavar="URL", help="database URL (default: CASCRAWL_DATABASE_URL or sqlite:///cascrawl.db)")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    export.set_defaults(handler=_export_command)

    _add_db_commands(commands)
    return parser


def _add_crawl_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--section", action="append", metavar="SLUG",
                         help=f"section to crawl, repeatable or comma-separated (default: {','.join(DEFAULT_SECTIONS)})")
    command.add_argument("--db", metavar="URL", help="database URL (default: CASCRAWL_DATABASE_URL or sqlite:///cascrawl.db)")
    command.add_argument("--max-pages", type=int, metavar="N", help="listing pages per section (default: all)")
    command.add_argument("--full", action="store_true",
                         help="walk every listing page and fetch every article, known or not (default: incremental)")
    command.add_argument("--refresh-days", type=int, metavar="N",
                         help="re-fetch the articles of the last N days with conditional GETs (edits become revisions)")
    command.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                         help="any Scrapy or cascrawl setting, e.g. -s DOWNLOAD_DELAY=0")


def _settings(args, parser, overrides: dict | None = None):
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("cascrawl.settings", priority="project")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    for pair in args.settings:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            parser.error(f"-s expects NAME=VALUE, got {pair!r}")
        settings.set(name.strip(), value, priority="cmdline")
    if args.db:
        settings.set("CASCRAWL_DATABASE_URL", args.db, priority="cmdline")
    if args.max_pages is not None:
        if args.max_pages < 0:
            parser.error("--max-pages must be 0 (all) or more")
        settings.set("CASCRAWL_MAX_PAGES", args.max_pages, priority="cmdline")
    if args.section:
        settings.set("CASCRAWL_SECTIONS", ",".join(args.section), priority="cmdline")
    if args.full:
        settings.set("CASCRAWL_INCREMENTAL", False, priority="cmdline")
    if args.refresh_days is not None:
        if args.refresh_days < 0:
            parser.error("--refresh-days must be 0 (none) or more")
        settings.set("CASCRAWL_REFRESH_DAYS", args.refresh_days, priority="cmdline")
    return settings


def _crawl_command(args, parser) -> int:
    from cascrawl.urls import normalize_base_url

    settings = _settings(args, parser)
    if args.base_url:
        try:
            settings.set("CASCRAWL_BASE_URL", normalize_base_url(args.base_url), priority="cmdline")
        except ValueError as error:
            parser.error(str(error))
    return _run(settings)


def _demo_command(args, parser) -> int:
    from cascrawl.fixture_site import BUNDLED_SITE, serve_site, site_sections

    # The copy is on loopback: no need to be polite to ourselves. Every section the copy holds.
    settings = _settings(args, parser, {
        "DOWNLOAD_DELAY": 0, "CONCURRENT_REQUESTS_PER_DOMAIN": 8, "LOG_LEVEL": "WARNING",
        "CASCRAWL_SECTIONS": ",".join(site_sections(BUNDLED_SITE)) if BUNDLED_SITE.is_dir() else None,
    })
    try:
        with serve_site() as base_url:
            print(f"serving the bundled fixture copy of www.cas.cn at {base_url}")
            settings.set("CASCRAWL_BASE_URL", base_url, priority="cmdline")
            code = _run(settings)
    except FileNotFoundError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    if code != 1:
        where = "`sqlite3 cascrawl.db` or `cascrawl export`" if not args.db else f"`cascrawl export --db {args.db}`"
        print(f"look inside: {where}")
    return code


def _run(settings) -> int:
    """Check the database, crawl, print a summary. Exit codes: 0 ok, 2 finished with failures, 1 failed."""
    from cascrawl.crawl import run_crawl
    from cascrawl.db import Database, DatabaseError, safe_url

    database_url = settings.get("CASCRAWL_DATABASE_URL")
    try:
        database = Database(database_url).open(auto_upgrade=settings.getbool("CASCRAWL_DB_AUTO_UPGRADE"))
    except DatabaseError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    database.close()
    outcome = run_crawl(settings)
    print(outcome.summary(safe_url(database_url)))
    try:
        print(f"articles in the database: {database.count_articles()}, rejects recorded: {database.count_rejects()}")
    finally:
        database.close()
    if outcome.unreachable:
        print(f"cascrawl: error: could not reach {outcome.base_url} ({outcome.first_error or 'no response'}). "
              "Is the network up? To try cascrawl offline, run `cascrawl demo`.", file=sys.stderr)
        return 1
    return outcome.exit_code


def _export_command(args, parser) -> int:
    import os

    from cascrawl.db import Database, DatabaseError
    from cascrawl.export import write_jsonl

    database_url = args.db or os.environ.get("CASCRAWL_DATABASE_URL", "sqlite:///cascrawl.db")
    try:
        database = Database(database_url).open(create=False)
    except DatabaseError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    try:
        if args.output:
            with open(args.output, "w", encoding="utf-8") as stream:
                count = write_jsonl(database.iter_articles(), stream)
            print(f"exported {count} articles to {args.output}", file=sys.stderr)
        else:
            sys.stdout.reconfigure(encoding="utf-8")
            write_jsonl(database.iter_articles(), sys.stdout)
    except BrokenPipeError:  # `cascrawl export | head` is fine
        sys.stderr.close()
    finally:
        database.close()
    return 0


# --- cascrawl db: the schema (Alembic migrations) and a look inside ---

_DB_HELP = "database URL (default: CASCRAWL_DATABASE_URL or sqlite:///cascrawl.db)"


def _add_db_commands(commands) -> None:
    db = commands.add_parser("db", help="the database: schema migrations, search")
    db_commands = db.add_subparsers(title="db commands", metavar="DB_COMMAND")

    upgrade = db_commands.add_parser("upgrade", help="migrate the database schema (default: to the newest, head)")
    upgrade.add_argument("--db", metavar="URL", help=_DB_HELP)
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    upgrade.set_defaults(handler=_db_upgrade_command)

    current = db_commands.add_parser("current", help="print the database's schema revision and whether it is up to date")
    current.add_argument("--db", metavar="URL", help=_DB_HELP)
    current.set_defaults(handler=_db_current_command)

    search = db_commands.add_parser("search", help="find articles whose title or text contains the words (Chinese too)")
    search.add_argument("query", help="words, all required, e.g. 脑机接口")
    search.add_argument("--db", metavar="URL", help=_DB_HELP)
    search.add_argument("--limit", type=int, default=20, metavar="N", help="at most N articles (default: 20)")
    search.set_defaults(handler=_db_search_command)

    db.set_defaults(handler=lambda args, parser: (db.print_help(), 2)[1])


def _database_url(args) -> str:
    import os

    return args.db or os.environ.get("CASCRAWL_DATABASE_URL", "sqlite:///cascrawl.db")


def _db_upgrade_command(args, parser) -> int:
    from cascrawl.db import Database, DatabaseError, safe_url

    try:
        database = Database(_database_url(args))
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
        database = Database(_database_url(args))
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
        database = Database(_database_url(args)).open(create=False)
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
