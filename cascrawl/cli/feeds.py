"""`cascrawl export --format atom|jsonfeed --output DIR`: the feeds as static files (cascrawl/feeds/static.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from cascrawl.cli.common import open_for_reading

FEED_FORMATS = {"atom": "atom", "jsonfeed": "json"}  # --format: the kind of document (cascrawl/feeds)


def add_feed_arguments(export) -> None:
    from cascrawl import settings

    export.add_argument("--section", metavar="S",
                        help="atom, jsonfeed: only the feed of this section (or of these, comma-separated); "
                             "default: all sections together and each section that holds articles")
    export.add_argument("--feed-url", metavar="URL",
                        help="atom, jsonfeed: the URL the folder will be published at, for absolute links between "
                             "the documents (default: links relative to each file)")
    export.add_argument("--page-size", metavar="N", default=settings.CASCRAWL_FEED_PAGE_SIZE,
                        help="atom, jsonfeed: entries per document, as `cascrawl serve` pages them "
                             "(default: CASCRAWL_FEED_PAGE_SIZE or 50)")


def export_feeds(args, parser) -> int:
    """Every document of the feeds into --output; one line on stderr of what was written."""
    from cascrawl.feeds import documents, static
    from cascrawl.sections import split_sections

    if not args.output:
        parser.error(f"--format {args.format} writes a folder of files: give it with --output DIR")
    if args.since:
        parser.error(f"--since: not with --format {args.format} (a feed is always whole; readers keep track)")
    if args.feed_url and not args.feed_url.startswith(("http://", "https://")):
        parser.error(f"--feed-url: expected an http(s) URL, got {args.feed_url!r}")
    try:
        size = documents.page_size(args.page_size)
    except ValueError as error:
        parser.error(f"--page-size: {error}")
    sections = None
    if args.section is not None:
        sections = [slug for slug in split_sections(args.section) if slug]
        if not sections:
            parser.error(f"--section: expected section slugs such as yw or djcx/gz, got {args.section!r}")
    database = open_for_reading(args)
    if database is None:
        return 1
    output = Path(args.output)
    try:
        written = static.write_feeds(database, output, [FEED_FORMATS[args.format]], sections, size, args.feed_url)
    except documents.UnknownSection as error:
        print(f"cascrawl: error: --section: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"cascrawl: error: cannot write the feeds into {output}: {error}", file=sys.stderr)
        return 1
    finally:
        database.close()
    feeds = f"{written.feeds} {args.format} feed" + ("s" if written.feeds != 1 else "")
    documents_written = f"{written.documents} document" + ("s" if written.documents != 1 else "")
    print(f"wrote {feeds} ({documents_written}, {size} entries a page) into {output}", file=sys.stderr)
    return 0
