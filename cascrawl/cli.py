"""The `cascrawl` command: crawl, demo, export, db; runs, articles, search, rejects, stats, serve."""

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
    from sqlalchemy.exc import InterfaceError, OperationalError

    try:
        code = args.handler(args, parser)
        sys.stdout.flush()  # a reader that left early is noticed here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _reader_left()
    except (OperationalError, InterfaceError) as error:  # the database went away mid-command: one line
        from cascrawl.db.store import safe_url

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

    export = commands.add_parser("export", help="print stored articles, one JSON object per line (or CSV)")
    export.add_argument("--db", metavar="URL", help="database URL (default: CASCRAWL_DATABASE_URL or sqlite:///cascrawl.db)")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl",
                        help="jsonl (default): one JSON object per line; csv: one row per article, with a header")
    export.add_argument("--since", metavar="CURSOR",
                        help="only what changed after this cursor (the one a previous export printed, or the API's)")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    export.set_defaults(handler=_export_command)

    _add_db_commands(commands)
    _add_inspect_commands(commands)
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
    if args.redis:
        settings.set("CASCRAWL_REDIS_URL", args.redis, priority="cmdline")
    return _run(settings)


DEMO_DATABASE_URL = "sqlite:///cascrawl-demo.db"


def _demo_command(args, parser) -> int:
    from cascrawl.fixture_site import BUNDLED_SITE, serve_site, site_sections

    # The copy is on loopback: no need to be polite to ourselves. Every section the copy holds.
    # Its own database: the fixture articles carry real www.cas.cn URLs with invented text, and an
    # incremental crawl of the real site into the same database would take them as already known.
    settings = _settings(args, parser, {
        "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CASCRAWL_RETRY_BACKOFF_BASE": 0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8, "LOG_LEVEL": "WARNING", "CASCRAWL_DATABASE_URL": DEMO_DATABASE_URL,
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
        database = args.db or DEMO_DATABASE_URL
        print(f"look inside: `cascrawl stats --db {database}`, `cascrawl export --db {database}`")
    return code


def _run(settings) -> int:
    """Check the database, crawl, print a summary. Exit codes: 0 ok, 2 finished with failures, 1 failed."""
    from sqlalchemy.exc import SQLAlchemyError

    from cascrawl.crawl import run_crawl
    from cascrawl.db import Database, DatabaseError, safe_url
    from cascrawl.distributed import refusal

    database_url = settings.get("CASCRAWL_DATABASE_URL")
    if problem := refusal(settings):
        print(f"cascrawl: error: {problem}", file=sys.stderr)
        return 1
    try:
        database = Database(database_url).open(auto_upgrade=settings.getbool("CASCRAWL_DB_AUTO_UPGRADE"))
    except DatabaseError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    database.close()
    outcome = run_crawl(settings)
    if outcome.locked:
        print(f"cascrawl: error: {outcome.locked}", file=sys.stderr)
        return 1
    print(outcome.summary(safe_url(database_url)))
    try:
        print(f"articles in the database: {database.count_articles()}, rejects recorded: {database.count_rejects()}")
    except SQLAlchemyError as error:  # the database went away during the run: one line, no traceback
        print(f"cascrawl: error: cannot read {safe_url(database_url)}: {database.error_line(error)}", file=sys.stderr)
    finally:
        database.close()
    if outcome.unreachable:
        print(f"cascrawl: error: could not reach {outcome.base_url} ({outcome.first_error or 'no response'}). "
              "Is the network up? To try cascrawl offline, run `cascrawl demo`.", file=sys.stderr)
        return 1
    return outcome.exit_code


def _export_command(args, parser) -> int:
    """Articles in (updated_at, id) order; a live counter on a terminal's stderr; the cursor to resume at the end."""
    from cascrawl.db import reads
    from cascrawl.export import write_csv, write_jsonl

    after = None
    if args.since:
        try:
            after = reads.Cursor.decode(args.since.strip())
        except ValueError as error:
            parser.error(f"--since: {error}")
    database = _open_for_reading(args)
    if database is None:
        return 1
    write = write_csv if args.format == "csv" else write_jsonl
    to_stdout = not args.output
    # Progress only for a person watching: stderr is a terminal and the records are not going there too.
    progress = _Progress(enabled=sys.stderr.isatty() and not (to_stdout and sys.stdout.isatty()))
    last: list = []

    def articles():
        for article in reads.iter_articles(database, after=after):
            last[:] = [article]
            yield article
            progress.tick()

    try:
        if to_stdout:
            sys.stdout.reconfigure(encoding="utf-8")
            count = write(articles(), sys.stdout)
            sys.stdout.flush()
        else:
            with open(args.output, "w", encoding="utf-8", newline="") as stream:
                count = write(articles(), stream)
    except BrokenPipeError:  # `cascrawl export | head` is fine
        sys.stderr.close()
        return 0
    except OSError as error:
        progress.done()
        print(f"cascrawl: error: cannot write {args.output or 'standard output'}: {error}", file=sys.stderr)
        return 1
    finally:
        database.close()
    progress.done()
    cursor = reads.Cursor.after(last[0]).encode() if last else args.since
    if args.output or progress.enabled:
        where = f" to {args.output}" if args.output else ""
        resume = f"; next time: --since {cursor}" if cursor else ""
        print(f"exported {count} articles{where}{resume}", file=sys.stderr)
    return 0


class _Progress:
    """`exported N articles` rewritten in place on stderr, a few times a second at most."""

    def __init__(self, enabled: bool, interval: float = 0.2):
        import time

        self.enabled = enabled
        self.count = 0
        self.interval = interval
        self._clock = time.monotonic
        self._shown = 0.0

    def tick(self) -> None:
        self.count += 1
        if self.enabled and self._clock() - self._shown >= self.interval:
            self._shown = self._clock()
            sys.stderr.write(f"\rexported {self.count} articles …")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self._shown:
            sys.stderr.write("\r\033[K")  # clear the counter line; the summary follows
            sys.stderr.flush()


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


# --- inspection: runs, articles, search, rejects, stats; the read API (serve) ---
#
# Exit codes of these commands: 0 done, 1 the database cannot be used, 2 bad usage, 3 not found
# (no such run or article). Human tables by default, --json for scripts.

EXIT_NOT_FOUND = 3


def _add_inspect_commands(commands) -> None:
    def common(command: argparse.ArgumentParser, child: bool = False) -> None:
        # A child command (`runs show`) must not reset what its parent's options already set.
        default = {"default": argparse.SUPPRESS} if child else {}
        command.add_argument("--db", metavar="URL", help=_DB_HELP, **default)
        command.add_argument("--json", action="store_true", help="JSON for scripts instead of a table", **default)

    runs = commands.add_parser("runs", help="crawl runs, newest first; `runs show ID` for one run")
    common(runs)
    runs.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N runs (default: 20)")
    runs.set_defaults(handler=_runs_command)
    runs_commands = runs.add_subparsers(title="runs commands", metavar="RUNS_COMMAND")
    show_run = runs_commands.add_parser("show", help="one run: status, counts, problems, rejects, settings, stats")
    show_run.add_argument("run", metavar="ID", help="run id, or `latest`")
    common(show_run, child=True)
    show_run.set_defaults(handler=_runs_show_command)

    articles = commands.add_parser("articles", help="stored articles: `articles list`, `articles show ID|URL`")
    articles_commands = articles.add_subparsers(title="articles commands", metavar="ARTICLES_COMMAND")
    listing = articles_commands.add_parser("list", help="articles, newest change first")
    common(listing)
    listing.add_argument("--section", metavar="S", help="section slug(s), comma-separated (yw,syky)")
    listing.add_argument("--since", metavar="D", help="changed at or after D (2025-06-14 or an ISO 8601 date-time; "
                                                       "Beijing time unless an offset is given)")
    listing.add_argument("--until", metavar="D", help="changed before D (a date includes that whole day)")
    listing.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N articles (default: 20)")
    listing.set_defaults(handler=_articles_list_command)
    show_article = articles_commands.add_parser("show", help="one article: fields, provenance, revisions, text")
    show_article.add_argument("article", metavar="ID|URL", help="article id, or its canonical (or fetched) URL")
    common(show_article)
    show_article.add_argument("--no-text", action="store_true", help="leave the text out")
    show_article.set_defaults(handler=_articles_show_command)
    articles.set_defaults(handler=lambda args, parser: (articles.print_help(), 2)[1])

    search = commands.add_parser("search", help="find articles whose title or text contains the words (Chinese too)")
    search.add_argument("words", nargs="+", metavar="WORD", help="all required, e.g. 脑机接口")
    common(search)
    search.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N articles (default: 20)")
    search.set_defaults(handler=_search_command)

    rejects = commands.add_parser("rejects", help="pages fetched but not stored, and why; newest first")
    common(rejects)
    rejects.add_argument("--run", metavar="ID", help="only those of this run (an id, or `latest`)")
    rejects.add_argument("--reason", metavar="CODE", help="only this reason code (http_404, missing_title, …)")
    rejects.add_argument("--limit", type=_positive, default=50, metavar="N", help="at most N rejects (default: 50)")
    rejects.set_defaults(handler=_rejects_command)

    stats = commands.add_parser("stats", help="per section: articles, newest article, latest change, last run")
    common(stats)
    stats.set_defaults(handler=_stats_command)

    serve = commands.add_parser("serve", help="the read-only HTTP API and the operator page (FastAPI + uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--db", metavar="URL", help=_DB_HELP)
    serve.set_defaults(handler=_serve_command)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return number


def _open_for_reading(args):
    """The database of --db, opened for reading; None (after one line on stderr) when it cannot be used."""
    from cascrawl.db import Database, DatabaseError

    try:
        return Database(_database_url(args)).open(create=False)
    except DatabaseError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return None


def _print_json(value) -> None:
    import json

    sys.stdout.reconfigure(encoding="utf-8")
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _cut(text: str, width: int) -> str:
    """At most `width` terminal columns (Chinese characters take two), … where cut."""
    text = " ".join(str(text).split())
    if _display_width(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        used += _display_width(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def _print_table(headers: list[str], rows: list[list], numeric: set[int] = frozenset(), caps: dict | None = None) -> None:
    """A plain text table, columns sized to their content (in terminal columns), the last one not padded."""
    sys.stdout.reconfigure(encoding="utf-8")
    cells = [[_cut("" if value is None else value, (caps or {}).get(index, 200)) for index, value in enumerate(row)]
             for row in rows]
    widths = [max([_display_width(h)] + [_display_width(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        parts = []
        for index, value in enumerate(values):
            pad = " " * (widths[index] - _display_width(value))
            last = index == len(values) - 1
            parts.append(pad + value if index in numeric else (value if last else value + pad))
        return "  ".join(parts).rstrip()

    print(line(headers))
    for row in cells:
        print(line(row))


def _when(iso_text: str | None, length: int = 16) -> str:
    """An ISO time of the records (Beijing) as `2025-06-14 16:30`."""
    return (iso_text or "")[:length].replace("T", " ")


def _run_id(database, value: str) -> int | None:
    """`latest` or an id; None when there is no such run (after a line on stderr)."""
    from cascrawl.db import reads

    if value == "latest":
        found = reads.get_run(database)
        if found is None:
            print("cascrawl: no crawl run recorded yet", file=sys.stderr)
            return None
        return found["id"]
    return int(value)


def _runs_command(args, parser) -> int:
    from cascrawl.api.records import run_json
    from cascrawl.db import reads

    database = _open_for_reading(args)
    if database is None:
        return 1
    try:
        runs = [run_json(run) for run in reads.list_runs(database, limit=args.limit)]
    finally:
        database.close()
    if args.json:
        _print_json(runs)
        return 0
    if not runs:
        print("no crawl run recorded yet", file=sys.stderr)
        return 0
    _print_table(
        ["run", "status", "started (Beijing)", "finished", "pages", "stored", "new", "revised", "rejects", "problems"],
        [[run["id"], run["status"], _when(run["started_at"]), _when(run["finished_at"])[11:],
          run["counts"]["listing_pages"], run["counts"]["articles_stored"], run["counts"]["inserted"],
          run["counts"]["revised"], run["counts"]["rejects"], "; ".join(run["problems"]) or "-"] for run in runs],
        numeric={0, 4, 5, 6, 7, 8}, caps={9: 60})
    return 0


def _runs_show_command(args, parser) -> int:
    from cascrawl.api.records import reject_json, run_detail_json
    from cascrawl.db import reads

    if args.run != "latest" and not args.run.isdigit():
        parser.error(f"runs show: expected a run id or `latest`, got {args.run!r}")
    database = _open_for_reading(args)
    if database is None:
        return 1
    try:
        run_id = _run_id(database, args.run)
        found = reads.get_run(database, run_id) if run_id is not None else None
        rejects = [reject_json(row) for row in reads.list_rejects(database, run_id=run_id, limit=20)] if found else []
        incomplete = reads.incomplete_sections(database, found["sections"] or []) if found else {}
    finally:
        database.close()
    if found is None:
        if run_id is not None:
            print(f"cascrawl: no run with id {run_id}", file=sys.stderr)
        return EXIT_NOT_FOUND
    run = run_detail_json(found)
    run["incomplete_sections"] = incomplete
    if args.json:
        _print_json(run)
        return 0
    sys.stdout.reconfigure(encoding="utf-8")
    print(f"run {run['id']}: {run['status']}" + (f" ({run['reason']})" if run["reason"] else ""))
    print(f"  started   {_when(run['started_at'], 19)} (Beijing)")
    print(f"  finished  {_when(run['finished_at'], 19) or '-'}")
    print(f"  site      {run['base_url'] or '-'}")
    print(f"  sections  {','.join(run['sections'])}")
    print("  counts    " + ", ".join(f"{label.replace('_', ' ')} {value}" for label, value in run["counts"].items()))
    print(f"  coverage  {run['coverage'] if run['coverage'] is not None else 'not recorded'}")
    for section, line in incomplete.items():
        print(f"  listing   {section}: {line}")
    print("degraded: " + ("no" if not run["problems"] else "yes, because"))
    for problem in run["problems"]:
        print(f"  - {problem}")
    if run["rejects_by_reason"]:
        print("rejects by reason: " + ", ".join(f"{reason} {count}" for reason, count in run["rejects_by_reason"].items()))
        for reject in rejects:
            print(f"  {_when(reject['seen_at'], 19)}  {reject['reason']}  {reject['url']}")
        if run["counts"]["rejects"] > len(rejects):
            print(f"  … {run['counts']['rejects'] - len(rejects)} more: cascrawl rejects --run {run['id']}")
    print("settings: " + ", ".join(f"{name}={value}" for name, value in sorted(run["settings"].items())))
    print("stats:")
    for name, value in sorted(run["stats"].items()):
        print(f"  {name}: {value}")
    return 0


def _articles_list_command(args, parser) -> int:
    from cascrawl.api.records import article_json, iso, parse_moment, parse_sections
    from cascrawl.db import reads

    try:
        filters = reads.ArticleFilter(
            sections=parse_sections(args.section, "--section"),
            since=parse_moment(args.since, "--since") if args.since else None,
            until=parse_moment(args.until, "--until", end_of_day=True) if args.until else None,
        )
    except ValueError as error:
        parser.error(str(error))
    database = _open_for_reading(args)
    if database is None:
        return 1
    try:
        page = reads.list_articles(database, filters, limit=args.limit, newest_first=True)
        total = reads.count_articles(database, filters)
    finally:
        database.close()
    if args.json:
        _print_json([article_json(article) for article in page.articles])
        return 0
    if page.articles:
        _print_table(["id", "published", "section", "rev", "changed (Beijing)", "title"],
                     [[a.id, a.published_date.isoformat(), a.section, a.revision, _when(iso(a.updated_at)), a.title]
                      for a in page.articles], numeric={0, 3}, caps={5: 60})
    print(f"{len(page.articles)} of {total} article(s), newest change first", file=sys.stderr)
    return 0


def _articles_show_command(args, parser) -> int:
    from cascrawl.api.records import article_detail_json
    from cascrawl.db import reads
    from cascrawl.sections import SECTIONS

    database = _open_for_reading(args)
    if database is None:
        return 1
    try:
        key = args.article.strip()
        article = reads.get_article(database, article_id=int(key)) if key.isdigit() else reads.get_article(database, url=key)
        detail = article_detail_json(article, reads.article_revisions(database, article.id)) if article else None
    finally:
        database.close()
    if detail is None:
        print(f"cascrawl: no article {'with id ' if key.isdigit() else 'at '}{key}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.no_text:
        detail["text"] = None
        for revision in detail["revisions"]:
            revision["text"] = None
    if args.json:
        _print_json(detail)
        return 0
    sys.stdout.reconfigure(encoding="utf-8")
    published = detail["published_date"] + (f" {detail['published_at'][11:16]} (+08:00)" if detail["published_at"] else "")
    fields = [
        ("url", detail["url"]),
        ("fetched from", detail["fetched_url"] if detail["fetched_url"] != detail["url"] else None),
        ("section", f"{detail['section']} {SECTIONS.get(detail['section'], '')}".strip()),
        ("published", published),
        ("source", detail["source"]), ("author", detail["author"]), ("editor", detail["editor"]),
        ("layout", detail["template"]), ("script", detail["script"]),
        ("revision", f"{detail['revision']} (first seen {_when(detail['first_seen_at'])}, content changed "
                     f"{_when(detail['updated_at'])}, last seen {_when(detail['last_seen_at'])}, Beijing)"),
        ("content hash", detail["content_hash"]),
        ("images", len(detail["images"])), ("attachments", len(detail["attachments"])),
    ]
    print(f"#{detail['id']}  {detail['title']}")
    for label, value in fields:
        if value is not None:
            print(f"  {label:<13}{value}")
    print("provenance:")
    for name, origin in sorted((detail["provenance"] or {}).items()):
        print(f"  {name:<13}{origin}")
    print("revisions: " + ("none (first version)" if not detail["revisions"] else ""))
    for revision in detail["revisions"]:
        print(f"  r{revision['revision']}  arrived {_when(revision['updated_at'])}  replaced {_when(revision['replaced_at'])}"
              f"  {revision['content_hash'][:12]}  {_cut(revision['title'], 50)}")
    if detail["text"] is not None:
        print("text:")
        for paragraph in detail["text"].splitlines():
            print(f"  {paragraph}")
    return 0


def _search_command(args, parser) -> int:
    database = _open_for_reading(args)
    if database is None:
        return 1
    try:
        hits = database.search(" ".join(args.words), limit=args.limit)
    finally:
        database.close()
    if args.json:
        _print_json([{**hit, "published_date": hit["published_date"].isoformat()} for hit in hits])
        return 0
    sys.stdout.reconfigure(encoding="utf-8")
    for hit in hits:
        print(f"{hit['published_date']}  {hit['section']}  {hit['title']}\n    {hit['url']}\n    {hit['snippet']}")
    print(f"{len(hits)} article(s) found", file=sys.stderr)
    return 0


def _rejects_command(args, parser) -> int:
    from cascrawl.api.records import reject_json
    from cascrawl.db import reads

    if args.run is not None and args.run != "latest" and not args.run.isdigit():
        parser.error(f"--run: expected a run id or `latest`, got {args.run!r}")
    database = _open_for_reading(args)
    if database is None:
        return 1
    try:
        run_id = _run_id(database, args.run) if args.run is not None else None
        if args.run is not None and run_id is None:
            return EXIT_NOT_FOUND
        if run_id is not None and reads.get_run(database, run_id) is None:
            print(f"cascrawl: no run with id {run_id}", file=sys.stderr)
            return EXIT_NOT_FOUND
        rejects = [reject_json(row) for row in reads.list_rejects(database, run_id=run_id, reason=args.reason,
                                                                   limit=args.limit)]
    finally:
        database.close()
    if args.json:
        _print_json(rejects)
        return 0
    if rejects:
        _print_table(["id", "run", "seen (Beijing)", "reason", "next try (Beijing)", "url", "detail"],
                     [[r["id"], r["run_id"] or "-", _when(r["seen_at"], 19), r["reason"],
                       _when(r["next_try_at"]) or "-", r["url"], r["detail"] or ""]
                      for r in rejects], numeric={0, 1}, caps={5: 80, 6: 60})
    print(f"{len(rejects)} reject(s)", file=sys.stderr)
    return 0


def _stats_command(args, parser) -> int:
    from cascrawl.api.records import section_json
    from cascrawl.db import reads
    from cascrawl.sections import SECTIONS

    database = _open_for_reading(args)
    if database is None:
        return 1
    try:
        sections = [section_json(stats) for stats in reads.section_stats(database)]
        totals = reads.totals(database)
    finally:
        database.close()
    if args.json:
        _print_json({"totals": totals, "sections": sections})
        return 0
    _print_table(
        ["section", "name", "articles", "newest article", "last change (Beijing)", "last run"],
        [[s["section"], SECTIONS.get(s["section"], ""), s["articles"], s["newest_published_date"] or "-",
          _when(s["last_updated_at"]) or "-",
          f"#{s['last_run']['id']} {s['last_run']['status']} {_when(s['last_run']['started_at'])}" if s["last_run"] else "-"]
         for s in sections], numeric={2})
    for s in sections:
        if s["incomplete"]:
            print(f"{s['section']}: {s['incomplete']}")
    print(f"{totals['articles']} articles, {totals['revisions']} earlier revisions, {totals['runs']} runs, "
          f"{totals['rejects']} rejects")
    return 0


def _serve_command(args, parser) -> int:
    import uvicorn

    from cascrawl.api.app import create_app
    from cascrawl.db import safe_url

    if not 0 <= args.port <= 65535:
        parser.error(f"--port: expected 0 to 65535, got {args.port}")
    database = _open_for_reading(args)
    if database is None:
        return 1
    print(f"cascrawl: serving {safe_url(database.url)} read-only on http://{args.host}:{args.port}/ "
          "(operator page /ui/, API docs /docs)", file=sys.stderr)
    try:
        uvicorn.run(create_app(database), host=args.host, port=args.port, log_level="info", access_log=True)
    finally:
        database.close()
    return 0
