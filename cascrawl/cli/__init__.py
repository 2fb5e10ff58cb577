"""The `cascrawl` command: crawl, demo, export, db; runs, articles, search, rejects, stats, serve, health;
extract, reparse, fixture.

One module per command group: crawl (crawl, demo), export, inspect (runs, articles, search, rejects, stats),
db (upgrade, current; search, an alias of `cascrawl search`), serve, health, extract (one page, no database); what they
share is in common."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cascrawl import __version__
from cascrawl.cli import crawl, db, export, extract, fixture, health, inspect, reparse, serve


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    if getattr(args, "db", None):
        from cascrawl.cli.common import as_database_url

        args.db = as_database_url(args.db)  # `--db cascrawl-demo.db`: that SQLite file
    # A handler's usage errors (a bad date, a bad id) show the usage of its own command, not the top level's.
    parser = getattr(args, "command_parser", parser)
    from sqlalchemy.exc import InterfaceError, OperationalError

    try:
        code = args.handler(args, parser)
        sys.stdout.flush()  # a reader that left early is noticed here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _reader_left()
    except (OperationalError, InterfaceError) as error:  # the database went away mid-command: one line
        from cascrawl.redact import safe_url

        detail = str(getattr(error, "orig", None) or error).strip().splitlines()
        database = safe_url(args.db) if getattr(args, "db", None) else "the database"
        print(f"cascrawl: error: lost the connection to {database}: {detail[0] if detail else type(error).__name__}",
              file=sys.stderr)
        return 1


def _reader_left() -> int:
    """`cascrawl articles list | head -5`: the reader closed the pipe, which is not an error (exit 0, no
    traceback). Standard output goes to /dev/null so that the interpreter's last flush stays quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (tests redirect it to a buffer)
        pass
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cascrawl", description="Crawl, clean and store the news of www.cas.cn.")
    parser.add_argument("--version", action="version", version=f"cascrawl {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    crawl.add_commands(commands)            # crawl, demo
    export.add_export_command(commands)     # export
    db.add_commands(commands)               # db upgrade, db current, db search
    inspect.add_commands(commands)          # runs, articles, search, rejects, stats
    serve.add_commands(commands)            # serve
    extract.add_commands(commands)          # extract
    health.add_commands(commands)           # health
    reparse.add_commands(commands)          # reparse
    fixture.add_commands(commands)          # fixture
    _remember_command_parsers(parser)
    return parser


def _remember_command_parsers(parser: argparse.ArgumentParser) -> None:
    """Each (sub)command's parser as the default `command_parser` of its arguments (the innermost wins)."""
    for action in parser._actions:  # argparse has no public walk of its subcommands
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.set_defaults(command_parser=command)
                _remember_command_parsers(command)
