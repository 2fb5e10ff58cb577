"""What the commands share: the database of --db, tables and JSON for people and scripts, exit codes."""

from __future__ import annotations

import argparse
import sys

DB_HELP = "database URL (default: CASCRAWL_DATABASE_URL or sqlite:///cascrawl.db)"

# Exit codes of the inspection commands: 0 done, 1 the database cannot be used, 2 bad usage, 3 not found
# (no such run or article). Human tables by default, --json for scripts.
EXIT_NOT_FOUND = 3


def database_url(args) -> str:
    """--db, else CASCRAWL_DATABASE_URL, else the default of cascrawl/settings.py."""
    import os

    from cascrawl import settings

    return args.db or os.environ.get("CASCRAWL_DATABASE_URL", settings.CASCRAWL_DATABASE_URL)


def setting_overrides(pairs: list[str], parser) -> dict[str, str]:
    """`-s NAME=VALUE` pairs as a crawl's command line takes them (a bad one: a usage error)."""
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            parser.error(f"-s expects NAME=VALUE, got {pair!r}")
        overrides[name.strip()] = value
    return overrides


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return number


def open_for_reading(args):
    """The database of --db, opened for reading; None (after one line on stderr) when it cannot be used."""
    from cascrawl.db import Database, DatabaseError

    try:
        return Database(database_url(args)).open(create=False)
    except DatabaseError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return None


def print_json(value) -> None:
    import json

    sys.stdout.reconfigure(encoding="utf-8")
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def cut(text: str, width: int) -> str:
    """At most `width` terminal columns (Chinese characters take two), … where cut."""
    text = " ".join(str(text).split())
    if display_width(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        used += display_width(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def print_table(headers: list[str], rows: list[list], numeric: set[int] = frozenset(), caps: dict | None = None) -> None:
    """A plain text table, columns sized to their content (in terminal columns), the last one not padded."""
    sys.stdout.reconfigure(encoding="utf-8")
    cells = [[cut("" if value is None else value, (caps or {}).get(index, 200)) for index, value in enumerate(row)]
             for row in rows]
    widths = [max([display_width(h)] + [display_width(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        parts = []
        for index, value in enumerate(values):
            pad = " " * (widths[index] - display_width(value))
            last = index == len(values) - 1
            parts.append(pad + value if index in numeric else (value if last else value + pad))
        return "  ".join(parts).rstrip()

    print(line(headers))
    for row in cells:
        print(line(row))


def when(iso_text: str | None, length: int = 16) -> str:
    """An ISO time of the records (Beijing) as `2025-06-14 16:30`."""
    return (iso_text or "")[:length].replace("T", " ")


def run_id_of(database, value: str) -> int | None:
    """`latest` or an id; None when there is no such run (after a line on stderr)."""
    from cascrawl.db import reads

    if value == "latest":
        found = reads.get_run(database)
        if found is None:
            print("cascrawl: no crawl run recorded yet", file=sys.stderr)
            return None
        return found["id"]
    return int(value)


def archived_record(reference: str, settings):
    """The archived response of a record reference `FILE#OFFSET` (cascrawl.archive.reader.ArchivedResponse):
    FILE a WARC file's path, or its name in the archive's folder (CASCRAWL_WARC_DIR, else `warc/` next to a
    SQLite database); OFFSET the record's byte offset, as `articles.warc_file` and `warc_offset` give them.
    ValueError for a reference of another form; ArchiveError when the record cannot be read."""
    from pathlib import Path

    from cascrawl.archive.paths import archive_dir
    from cascrawl.archive.reader import read_response

    name, sep, offset = reference.rpartition("#")
    if not sep or not name or not offset.isdigit():
        raise ValueError(f"expected an archived record as FILE#OFFSET (warc/cascrawl-run3-00000.warc.gz#1234), "
                         f"got {reference!r}")
    path = Path(name).expanduser()
    folder = archive_dir(settings)
    if not path.is_file() and folder is not None and (folder / name).is_file():
        path = folder / name
    return read_response(path.parent, path.name, int(offset))


def is_record_reference(value: str) -> bool:
    """`FILE#OFFSET` where FILE names a WARC file (.warc, .warc.gz)."""
    name, sep, offset = value.rpartition("#")
    return bool(sep) and offset.isdigit() and name.lower().endswith((".warc", ".warc.gz"))
