"""What the commands share: the database of --db, tables and JSON for people and scripts, exit codes."""

from __future__ import annotations

import argparse
import sys

DB_HELP = "database URL (default: CASCRAWL_DATABASE_URL or sqlite:///cascrawl.db)"

# Exit codes of the inspection commands: 0 done, 1 the database cannot be used, 2 bad usage, 3 not found
# (no such run or article). Human tables by default, --json for scripts.
EXIT_NOT_FOUND = 3


def program() -> str:
    """How to type this program in the hints it prints: `.venv/bin/cascrawl` from the repository root (no
    activation needed, as the docs write it), `cascrawl` when that is what PATH finds, else its full path."""
    import os
    import shutil
    from pathlib import Path

    script = Path(sys.prefix) / "bin" / "cascrawl"
    if not script.exists():
        return f"{sys.executable} -m cascrawl"
    if shutil.which("cascrawl") == str(script):
        return "cascrawl"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return os.fspath(script)


def as_typed(message: str) -> str:
    """A message of the lower layers with its hints (`cascrawl db upgrade …`) as the user can type them here."""
    return message.replace("`cascrawl ", f"`{program()} ")


def fail(error) -> None:
    """The one line of an expected failure on stderr: `cascrawl: error: …`, its hints as typed."""
    print(f"cascrawl: error: {as_typed(str(error))}", file=sys.stderr)


def as_database_url(value: str) -> str:
    """A database URL as given (`sqlite:///x.db`, `postgresql+psycopg://…`), or a plain file path
    (`cascrawl-demo.db`, `/srv/cascrawl/cascrawl.db`, `~/x.db`) as the URL of that SQLite file."""
    import os

    if "://" in value or not value.strip():
        return value
    return "sqlite:///" + os.path.expanduser(value.strip())


def database_url(args) -> str:
    """--db, else CASCRAWL_DATABASE_URL, else the default of cascrawl/settings.py (a plain path: a SQLite file)."""
    import os

    from cascrawl import settings

    return as_database_url(args.db or os.environ.get("CASCRAWL_DATABASE_URL", settings.CASCRAWL_DATABASE_URL))


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
        fail(error)
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


def terminal_width() -> int:
    """Columns to fit: $COLUMNS, else the terminal's width, else 80 (a pipe, a file); never under 40."""
    import shutil

    return max(40, shutil.get_terminal_size((80, 24)).columns)


def _fit(widths: list[int], flexible: dict[int, int], drop: list[int], room: int) -> tuple[list[int], list[int]]:
    """(the columns shown, their widths) for a table of natural `widths` in `room` columns: the flexible
    columns (index -> least width) share what the others leave, and while they would get less than their
    least, the columns of `drop` go, in that order."""
    shown = list(range(len(widths)))
    dropping = [index for index in drop if index < len(widths)]
    while True:
        fitted = {index: widths[index] for index in shown}
        room_left = room - 2 * (len(shown) - 1) - sum(widths[i] for i in shown if i not in flexible)
        flex = sorted((i for i in shown if i in flexible), key=lambda i: widths[i])
        for position, index in enumerate(flex):  # narrowest first: what it does not need goes to the others
            share = room_left // (len(flex) - position) if room_left > 0 else 0
            fitted[index] = min(widths[index], share)
            room_left -= fitted[index]
        short = any(fitted[i] < min(widths[i], flexible[i]) for i in flex) or room_left < 0
        if not short or not dropping:
            return shown, [fitted[index] for index in shown]
        shown.remove(dropping.pop(0))


def print_table(headers: list[str], rows: list[list], numeric: set[int] = frozenset(),
                flexible: dict[int, int] | None = None, drop: list[int] = (), width: int | None = None) -> None:
    """A plain text table that fits the terminal (`terminal_width()`; Chinese characters take two columns).

    Columns are sized to their content; when that is too wide, the `flexible` columns (index -> least
    width, e.g. a title) are cut with … to share the room the others leave, and the columns of `drop` are
    left out, in that order, while a flexible one would get less than its least. The last column is not
    padded. The same text on a terminal and in a pipe (80 columns unless $COLUMNS says otherwise)."""
    sys.stdout.reconfigure(encoding="utf-8")
    flexible = flexible or {}
    cells = [[" ".join(str("" if value is None else value).split()) for value in row] for row in rows]
    natural = [max([display_width(h)] + [display_width(row[i]) for row in cells]) for i, h in enumerate(headers)]
    shown, widths = _fit(natural, flexible, list(drop), width or terminal_width())

    def line(values: list[str]) -> str:
        parts = []
        for position, index in enumerate(shown):
            value = cut(values[index], widths[position])
            pad = " " * (widths[position] - display_width(value))
            last = position == len(shown) - 1
            parts.append(pad + value if index in numeric else (value if last else value + pad))
        return "  ".join(parts).rstrip()

    print(line(headers))
    for row in cells:
        print(line(row))


def wrap(text: str, width: int | None = None, indent: str = "  ") -> str:
    """`text` in lines of at most `width` terminal columns (default: the terminal's), broken at spaces; a
    run of Chinese longer than a line is broken where it must, a path or URL longer than a line is left
    whole where it is (to be copied). Lines after the first start with `indent`. Chinese characters count two columns."""
    width = width or terminal_width()
    lead = text[:len(text) - len(text.lstrip(" "))]
    lines, current = [], lead
    for word in text[len(lead):].split(" "):
        candidate = f"{current} {word}" if current.strip() else current + word
        limit = width - (display_width(indent) if lines else 0)
        unbreakable = display_width(word) == len(word) and display_width(indent) + len(word) > width
        if display_width(candidate) <= limit or not current.strip() or unbreakable:  # a long path stays put
            current = candidate
        else:
            lines.append(current)
            current = word
        # A word longer than a line is broken only where it holds Chinese (no spaces to break at); a path or
        # a URL stays whole, to be copied.
        while (display_width(current) > width - (display_width(indent) if lines else 0)
               and display_width(current) != len(current)):
            limit = width - (display_width(indent) if lines else 0)
            head, used = "", 0
            for char in current:
                if used + display_width(char) > limit:
                    break
                head, used = head + char, used + display_width(char)
            lines.append(head)
            current = current[len(head):]
    lines.append(current)
    return "\n".join((indent + line if number else line) for number, line in enumerate(lines))


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
