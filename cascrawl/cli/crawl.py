"""`cascrawl crawl` and `cascrawl demo`: crawl www.cas.cn (or a copy of it) into the database, print the summary."""

from __future__ import annotations

import argparse
import logging
import sys

from cascrawl.cli.common import fail, program, wrap
from cascrawl.sections import DEFAULT_SECTIONS


def add_commands(commands) -> None:
    crawl = commands.add_parser("crawl", help="crawl www.cas.cn (or a copy of it) into the database")
    _add_crawl_options(crawl)
    crawl.add_argument("--base-url", default=None, help="crawl a copy of the site at this URL (default: https://www.cas.cn)")
    crawl.add_argument("--redis", metavar="URL", default=None,
                       help="distributed crawl: share the queue of this Redis (redis://host:6379/0) with the other "
                            "workers; needs a PostgreSQL --db (default: CASCRAWL_REDIS_URL)")
    crawl.set_defaults(handler=_crawl_command)

    demo = commands.add_parser("demo", help="serve the bundled fixture copy of the site on 127.0.0.1 and crawl it")
    _add_crawl_options(demo)
    demo.set_defaults(handler=_demo_command)


def _add_crawl_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--section", action="append", metavar="SLUG",
                         help=f"section to crawl, repeatable or comma-separated; `all`: every known section "
                              f"(default: {','.join(DEFAULT_SECTIONS)})")
    command.add_argument("--db", metavar="URL", help="database URL (default: CASCRAWL_DATABASE_URL or sqlite:///cascrawl.db)")
    command.add_argument("--max-pages", type=int, metavar="N", help="listing pages per section (default: all)")
    command.add_argument("--full", action="store_true",
                         help="walk every listing page and fetch every article, known or not (default: incremental)")
    command.add_argument("--refresh-days", type=int, metavar="N",
                         help="re-fetch the articles of the last N days with conditional GETs (edits become revisions)")
    command.add_argument("--media", metavar="DIR",
                         help="keep each article's images and attachments in DIR (the media archive; default: off, "
                              "or CASCRAWL_MEDIA_STORE)")
    command.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                         help="any Scrapy or cascrawl setting, e.g. -s DOWNLOAD_DELAY=0")
    command.add_argument("--verbose", "-v", action="store_true",
                         help="stream the log to the terminal (as -s LOG_LEVEL=… does); it always goes to the run's log file")


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
        from cascrawl.sections import crawl_sections

        try:
            settings.set("CASCRAWL_SECTIONS", ",".join(crawl_sections(args.section)), priority="cmdline")
        except ValueError as error:
            parser.error(f"--section: {error}")
    if args.full:
        settings.set("CASCRAWL_INCREMENTAL", False, priority="cmdline")
    if args.refresh_days is not None:
        if args.refresh_days < 0:
            parser.error("--refresh-days must be 0 (none) or more")
        settings.set("CASCRAWL_REFRESH_DAYS", args.refresh_days, priority="cmdline")
    if args.media:
        settings.set("CASCRAWL_MEDIA_STORE", args.media, priority="cmdline")
    return settings


def _crawl_command(args, parser) -> int:
    from cascrawl.urls import normalize_base_url

    settings = _settings(args, parser)
    if args.base_url:
        try:
            settings.set("CASCRAWL_BASE_URL", normalize_base_url(args.base_url), priority="cmdline")
        except ValueError as error:
            parser.error(str(error))
    if args.redis:
        settings.set("CASCRAWL_REDIS_URL", args.redis, priority="cmdline")
    return _run(settings, verbose=args.verbose)


DEMO_DATABASE_URL = "sqlite:///cascrawl-demo.db"


def _demo_command(args, parser) -> int:
    from cascrawl.site_server import demo_site, serve_site, site_sections

    try:
        site = demo_site()
    except FileNotFoundError as error:
        fail(error)
        return 1
    # The copy is on loopback: no need to be polite to ourselves. Every section the copy holds.
    # Its own database: the fixture articles carry real www.cas.cn URLs with invented text, and an
    # incremental crawl of the real site into the same database would take them as already known.
    settings = _settings(args, parser, {
        "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CASCRAWL_RETRY_BACKOFF_BASE": 0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8, "CASCRAWL_DATABASE_URL": DEMO_DATABASE_URL,
        "CASCRAWL_SECTIONS": ",".join(site_sections(site)),
    })
    try:
        with serve_site(site) as base_url:
            print(f"serving the bundled fixture copy of www.cas.cn at {base_url}")
            settings.set("CASCRAWL_BASE_URL", base_url, priority="cmdline")
            code = _run(settings, verbose=args.verbose)
    except FileNotFoundError as error:
        fail(error)
        return 1
    if code != 1:
        database = args.db or DEMO_DATABASE_URL
        shown = database.removeprefix("sqlite:///") if database.startswith("sqlite:///") else database
        print(wrap(f"look inside: `{program()} stats --db {shown}`, `{program()} articles list --db {shown}`",
                   indent="    "))
    return code


def _run(settings, verbose: bool = False) -> int:
    """Check the database, crawl, print a summary. Exit codes: 0 ok, 2 degraded, 1 failed.

    The full log goes to the run's log file; the terminal gets it too only with --verbose or an explicit
    -s LOG_LEVEL. Otherwise a terminal shows the live progress, and every run ends with the one-screen
    summary, or one line for an expected failure (the detail is in the log file)."""
    from scrapy.settings import SETTINGS_PRIORITIES
    from sqlalchemy.exc import SQLAlchemyError

    from cascrawl.crawl import run_crawl
    from cascrawl.db import Database, DatabaseError, safe_url
    from cascrawl.distributed import refusal

    database_url = settings.get("CASCRAWL_DATABASE_URL")
    if problem := refusal(settings):
        fail(problem)
        return 1
    try:
        database = Database(database_url).open(auto_upgrade=settings.getbool("CASCRAWL_DB_AUTO_UPGRADE"))
    except DatabaseError as error:
        fail(error)
        return 1
    database.close()
    log_file, stream = _log_destinations(settings, verbose)
    if settings.getpriority("CASCRAWL_PROGRESS") < SETTINGS_PRIORITIES["cmdline"]:
        settings.set("CASCRAWL_PROGRESS", not stream and sys.stderr.isatty(), priority="cmdline")
    if stream is not None:
        logging.root.addHandler(stream)
    try:
        outcome = run_crawl(settings)
    finally:
        if stream is not None:
            logging.root.removeHandler(stream)
    where = f" (log: {log_file})" if log_file else ""
    if outcome.locked:
        print(f"cascrawl: error: {outcome.locked}{where}", file=sys.stderr)
        return 1
    if outcome.unreachable:
        print(f"cascrawl: error: could not reach {outcome.base_url} ({outcome.first_error or 'no response'}). "
              f"Is the network up? To try cascrawl offline, run `{program()} demo`.{where}", file=sys.stderr)
        return 1
    # Each line of the summary broken at spaces to the terminal's width (80 in a cron mail), continued indented.
    print("\n".join(wrap(line, indent="    ") for line in outcome.summary(safe_url(database_url)).splitlines()))
    try:
        print(f"articles in the database: {database.count_articles()}, rejects recorded: {database.count_rejects()}")
    except SQLAlchemyError as error:  # the database went away during the run: one line, no traceback
        print(f"cascrawl: error: cannot read {safe_url(database_url)}: {database.error_line(error)}", file=sys.stderr)
    finally:
        database.close()
    if log_file:
        print(f"log: {log_file}")
    return outcome.exit_code


def _log_destinations(settings, verbose: bool):
    """(the run's log file, a handler streaming the log to stderr or None). LOG_FILE given by the user is
    kept; else a new file in CASCRAWL_LOG_DIR (cascrawl.runlog)."""
    from scrapy.settings import SETTINGS_PRIORITIES

    from cascrawl.runlog import new_log_file, stream_handler

    explicit_level = settings.getpriority("LOG_LEVEL") >= SETTINGS_PRIORITIES["cmdline"]
    log_file = settings.get("LOG_FILE")
    if not log_file:
        log_file = str(new_log_file(settings.get("CASCRAWL_DATABASE_URL"), settings.get("CASCRAWL_LOG_DIR") or "",
                                    keep=settings.getint("CASCRAWL_LOG_KEEP")))
        settings.set("LOG_FILE", log_file, priority="cmdline")
    stream = None
    if verbose or explicit_level:
        stream = stream_handler(settings.get("LOG_LEVEL"), settings.get("LOG_FORMAT"), settings.get("LOG_DATEFORMAT"))
    return log_file, stream
