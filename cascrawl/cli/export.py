"""`cascrawl export`: the stored articles as JSON lines or CSV (the export contract: docs/export.md), all
of them or what changed after a cursor; the cursor to pass next time is printed on standard error (always)
and, with --cursor-file, written to a file."""

from __future__ import annotations

import sys

from cascrawl.cli.common import open_for_reading
from cascrawl.cli.feeds import FEED_FORMATS, add_feed_arguments, export_feeds


def add_export_command(commands) -> None:
    export = commands.add_parser("export", help="print stored articles, one JSON object per line (or CSV)")
    export.add_argument("--db", metavar="URL", help="database URL (default: CASCRAWL_DATABASE_URL or sqlite:///cascrawl.db)")
    export.add_argument("--format", choices=["jsonl", "csv", *FEED_FORMATS], default="jsonl",
                        help="jsonl (default): one JSON object per line; csv: one row per article, with a header; "
                             "atom, jsonfeed: the feeds as static files in the folder --output (docs/export.md)")
    export.add_argument("--since", metavar="CURSOR",
                        help="only what changed after this cursor (the one a previous export printed, or the API's)")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output "
                        "(atom, jsonfeed: the folder to write the feeds into)")
    export.add_argument("--cursor-file", metavar="FILE",
                        help="also write the cursor for the next run (--since) into FILE, for scripts")
    add_feed_arguments(export)
    export.set_defaults(handler=_export_command)


def _export_command(args, parser) -> int:
    """Articles in (updated_at, id) order; a live counter on a terminal's stderr; the cursor to resume at the end."""
    if args.format in FEED_FORMATS:
        return export_feeds(args, parser)
    from cascrawl.db import reads
    from cascrawl.export import write_csv, write_jsonl

    after = None
    if args.since:
        try:
            after = reads.Cursor.decode(args.since.strip())
        except ValueError as error:
            parser.error(f"--since: {error}")
    database = open_for_reading(args)
    if database is None:
        return 1
    write = write_csv if args.format == "csv" else write_jsonl
    to_stdout = not args.output
    # Progress only for a person watching: stderr is a terminal and the records are not going there too.
    progress = _Progress(enabled=sys.stderr.isatty() and not (to_stdout and sys.stdout.isatty()))
    last: list = []

    # What changed after a cursor holds the articles withdrawn since, as tombstones; a whole export, only the
    # articles there are.
    filters = reads.ArticleFilter(tombstones=after is not None)

    def articles():
        for article in reads.iter_articles(database, after=after, filters=filters):
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
    # Always one line on stderr, a terminal or not (cron, `export > file`): the cursor is what the next run needs.
    where = f" to {args.output}" if args.output else ""
    resume = f"; next time: --since {cursor}" if cursor else "; next time: the same command (nothing to resume from)"
    print(f"exported {count} articles{where}{resume}", file=sys.stderr)
    if args.cursor_file and cursor:
        try:
            with open(args.cursor_file, "w", encoding="utf-8") as stream:
                stream.write(cursor + "\n")
        except OSError as error:
            print(f"cascrawl: error: cannot write the cursor to {args.cursor_file}: {error}", file=sys.stderr)
            return 1
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


