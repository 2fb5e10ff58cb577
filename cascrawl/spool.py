"""The spool: articles and rejects that could not be written to the database, kept on disk until the
next run writes them (before it crawls).

One file per run that spooled, named after the database it was meant for, so that a spool is only
ever replayed into its own database: `cascrawl-spool-<database key>-run<id>.jsonl`. It goes to
CASCRAWL_SPOOL_DIR (by default next to a SQLite file, else in $XDG_STATE_HOME/cascrawl or
~/.local/state/cascrawl); when that directory cannot take it (disk full, read-only, no permission),
to the first fallback that can: $XDG_STATE_HOME/cascrawl, then the temporary directory
(`$TMPDIR/cascrawl-spool`). A run looks for spools of its database in all of them.

Format: one self-checking record per line, `S1 <length> <crc32> <json>`, the length and CRC-32 of the
JSON's UTF-8 bytes. Why not write-temp + fsync + rename: a run appends to its spool several times
(each batch the database refuses), and rename would rewrite the whole file at each append; with a
checked record per line an append is cheap, earlier lines are already fsynced, and a crash or a full
disk in the middle of an append can only spoil the line being written — which the CRC catches
whatever byte it was cut at (inside a multi-byte character or at an ASCII byte), as it catches a
line corrupted afterwards. A failed append is also cut back to where it began, so the next append
never continues a torn line.

Reading is line by line, in binary: a line that fails its check, is not UTF-8, not JSON, or JSON of
the wrong shape is quarantined to `<spool>.rejected` (one JSON line each: line number, reason, the
line's bytes) and counted; the good lines are written. A spool that cannot be read at all is moved
aside to `<spool>.unreadable`. Neither ever stops a run. Lines without the `S1` prefix are plain
JSON records, as cascrawl wrote before the check, read with the same shape rules.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from cascrawl import stats_keys
from cascrawl.redact import safe_url

_PREFIX = b"S1"
REJECTED_SUFFIX = ".rejected"
UNREADABLE_SUFFIX = ".unreadable"


def default_spool_dir(database_url: str) -> Path:
    try:
        parsed = make_url(database_url)
    except Exception:  # an unparseable URL never gets this far; be safe anyway
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not parsed.database.startswith("file:"):
            return Path(parsed.database).resolve().parent
    return state_dir()


def state_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "cascrawl"


def database_key(database_url: str) -> str:
    """A short name for the database (its URL without the password), the same in every run."""
    return hashlib.sha256(safe_url(database_url).encode("utf-8")).hexdigest()[:12]


@dataclass
class SpoolContents:
    """What a spool file held: the good records, and the lines quarantined (line number, reason)."""

    articles: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)
    quarantine_error: str | None = None  # why `<spool>.rejected` could not be written, if it could not


class Spool:
    def __init__(self, directory: str | Path | None, database_url: str):
        self.directory = Path(directory) if directory else default_spool_dir(database_url)
        self.key = database_key(database_url)

    def directories(self) -> list[Path]:
        """Where this database's spools may be: the configured directory first, then the fallbacks."""
        found: list[Path] = []
        for candidate in (self.directory, state_dir(), Path(tempfile.gettempdir()) / "cascrawl-spool"):
            if candidate not in found:
                found.append(candidate)
        return found

    def name_for_run(self, run_id: int | None) -> str:
        return f"cascrawl-spool-{self.key}-run{run_id if run_id is not None else 0}.jsonl"

    def path_for_run(self, run_id: int | None) -> Path:
        return self.directory / self.name_for_run(run_id)

    def pending(self) -> list[Path]:
        """Spool files of this database in every spool directory, oldest first."""
        found = []
        for directory in self.directories():
            try:
                found.extend(path for path in directory.glob(f"cascrawl-spool-{self.key}-run*.jsonl"))
            except OSError:
                continue
        return sorted(found, key=_mtime)

    def keep(self, run_id: int | None, articles: list[dict[str, Any]], rejects: list[dict[str, Any]],
             prefer: Path | None = None) -> tuple[Path, list[str]]:
        """Append to this run's spool in the first directory that takes it (`prefer`, the file already
        used by this run, first). Returns the file, and why each directory before it refused;
        raises OSError (the last one's error, with every refusal) when none could."""
        name = self.name_for_run(run_id)
        candidates = ([prefer] if prefer is not None else []) + [d / name for d in self.directories()]
        refusals: list[str] = []
        tried: set[Path] = set()
        for path in candidates:
            if path in tried:
                continue
            tried.add(path)
            try:
                Spool.append(path, articles, rejects)
            except OSError as error:
                refusals.append(f"{path.parent}: {error.strerror or error}")
                continue
            return path, refusals
        raise SpoolUnwritable(refusals)

    @staticmethod
    def append(path: Path, articles: Iterable[dict[str, Any]], rejects: Iterable[dict[str, Any]]) -> int:
        """Add rows to a spool file; flushed and fsynced before returning. Returns the lines written.
        On failure the file is cut back to its size before (best effort) and OSError raised."""
        data = b"".join(encode_record(kind, row) for kind, rows in (("article", articles), ("reject", rejects))
                        for row in rows)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            start = os.fstat(descriptor).st_size
            try:
                if start and _last_byte(path, start) != b"\n":  # a torn line left by a crash: end it
                    data = b"\n" + data
                view = memoryview(data)
                while view:
                    view = view[os.write(descriptor, view):]
                os.fsync(descriptor)
            except OSError:
                try:
                    os.ftruncate(descriptor, start)
                    if not start:  # made by this append: leave no empty spool behind
                        os.unlink(path)
                except OSError:
                    pass  # the reader's checks catch what is left
                raise
        finally:
            os.close(descriptor)
        return data.count(b"\n") - (1 if data.startswith(b"\n") else 0)

    @staticmethod
    def read(path: Path) -> SpoolContents:
        """The good records of a spool file; every bad line is appended to `<path>.rejected` with its
        reason (and counted in `bad`). OSError when the file cannot be read at all."""
        contents = SpoolContents()
        quarantined = []
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    kind, row = decode_record(line)
                except BadRecord as error:
                    contents.bad.append((number, str(error)))
                    quarantined.append(_quarantine_line(path, number, str(error), line))
                    continue
                (contents.articles if kind == "article" else contents.rejects).append(row)
        if quarantined:
            try:
                with open(rejected_path(path), "ab") as handle:
                    handle.write(b"".join(quarantined))
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as error:  # the reasons are in `bad` (and the log) all the same
                contents.quarantine_error = error.strerror or str(error)
        return contents

    @staticmethod
    def move_aside(path: Path) -> Path:
        """A spool that cannot be read: renamed so that no later run tries it again. OSError if it cannot be."""
        target = path.with_name(path.name + UNREADABLE_SUFFIX)
        os.replace(path, target)
        return target


class SpoolUnwritable(OSError):
    """No spool directory could take the records; the message names each and why."""

    def __init__(self, refusals: list[str]):
        super().__init__("; ".join(refusals) or "no spool directory")
        self.refusals = refusals


class BadRecord(ValueError):
    """A spool line that cannot be used; the message is the reason, one line."""


def rejected_path(path: Path) -> Path:
    return path.with_name(path.name + REJECTED_SUFFIX)


def encode_record(kind: str, row: dict[str, Any]) -> bytes:
    payload = json.dumps({"kind": kind, "row": row}, ensure_ascii=False, default=_encode).encode("utf-8")
    return b"%s %d %08x %s\n" % (_PREFIX, len(payload), zlib.crc32(payload), payload)


def decode_record(line: bytes) -> tuple[str, dict[str, Any]]:
    """(kind, row) of one spool line, or BadRecord saying why not."""
    line = line.rstrip(b"\r\n")
    if line.startswith(_PREFIX + b" "):
        parts = line.split(b" ", 3)
        if len(parts) != 4 or not parts[1].isdigit():
            raise BadRecord("malformed record header")
        payload = parts[3]
        if len(payload) != int(parts[1]):
            raise BadRecord(f"cut short: {len(payload)} of {int(parts[1])} bytes")
        if f"{zlib.crc32(payload):08x}".encode() != parts[2]:
            raise BadRecord("checksum mismatch")
    elif line.startswith(b"{"):
        payload = line  # a record written before the check (plain JSON line)
    else:
        raise BadRecord("not a spool record")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRecord(f"not UTF-8 (byte {error.start})") from None
    try:
        record = json.loads(text, object_hook=_decode)
    except (ValueError, TypeError) as error:  # JSONDecodeError, a bad $date/$datetime value
        raise BadRecord(f"not JSON: {error}") from None
    return _checked(record)


def _checked(record: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(record, dict):
        raise BadRecord(f"a JSON {type(record).__name__}, not a record")
    kind, row = record.get("kind"), record.get("row")
    if kind not in ("article", "reject"):
        raise BadRecord(f"unknown kind {kind!r}")
    if not isinstance(row, dict):
        raise BadRecord(f"{kind} without a row")
    if not isinstance(row.get("url"), str) or not row["url"]:
        raise BadRecord(f"{kind} without a url")
    if kind == "reject":
        if not isinstance(row.get("reason"), str) or not isinstance(row.get("seen_at"), datetime):
            raise BadRecord("reject without a reason or seen_at")
        row.setdefault("detail", None)
    else:
        for name in ("attachments", "images", "videos", "media"):
            if row.get(name) is not None and not (isinstance(row[name], list)
                                                  and all(isinstance(entry, dict) for entry in row[name])):
                raise BadRecord(f"article {name} is not a list of objects")
        if row.get("provenance") is not None and not isinstance(row["provenance"], dict):
            raise BadRecord("article provenance is not an object")
    return kind, row


def _quarantine_line(path: Path, number: int, reason: str, line: bytes) -> bytes:
    entry = {"spool": path.name, "line": number, "reason": reason,
             "text": line.rstrip(b"\n").decode("utf-8", "backslashreplace"),
             "bytes_base64": base64.b64encode(line).decode("ascii")}
    return json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n"


def _last_byte(path: Path, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _decode(obj: dict) -> Any:
    if len(obj) == 1:
        if "$datetime" in obj:
            return datetime.fromisoformat(obj["$datetime"])
        if "$date" in obj:
            return date.fromisoformat(obj["$date"])
    return obj


def summary_lines(stats: dict) -> list[str]:
    """The end-of-run summary's lines on the spool and the database's faults, from the crawler's stats:
    what an earlier spool gave, what this run kept or lost, and only when true, "nothing lost"."""

    def count(key: str) -> int:
        return int(stats.get(key, 0) or 0)

    lines = []
    if count("cascrawl/db/spool_replayed_articles") or count("cascrawl/db/spool_replayed_rejects"):
        lines.append(f"spool of an earlier run written first: {count('cascrawl/db/spool_replayed_articles')} articles, "
                     f"{count('cascrawl/db/spool_replayed_rejects')} rejects")
    if count("cascrawl/db/spool_bad_lines"):
        lines.append(f"warning: {count('cascrawl/db/spool_bad_lines')} bad spool line(s) skipped, kept with their "
                     f"reasons in {', '.join(stats.get('cascrawl/db/spool_quarantine') or [])}")
    for line in stats.get("cascrawl/db/spool_unreadable") or []:
        lines.append(f"warning: spool {line}")
    if count("cascrawl/db/start_waits"):
        lines.append(f"database busy at the start: waited {float(stats.get('cascrawl/db/start_wait_seconds', 0)):.1f} s")
    lost, spooled = count(stats_keys.ARTICLES_LOST), count(stats_keys.SPOOLED)
    if count("cascrawl/db/outages"):
        what = "locked by another writer" if stats.get("cascrawl/db/outage_locked") else "unreachable"
        line = (f"database outage ({what}): fetching paused {float(stats.get('cascrawl/db/outage_seconds', 0)):.1f} s "
                f"({count('cascrawl/db/outages')} time(s))")
        if not (lost or spooled or stats.get("cascrawl/db/failure")):
            line = line.replace("database outage", "database outage ridden out", 1) + "; nothing lost"
        lines.append(line)
    failure = stats.get("cascrawl/db/failure") or "the database failed"
    if spooled:
        files = stats.get("cascrawl/db/spool_files") or [stats.get("cascrawl/db/spool_file")]
        lines.append(f"error: {failure}: {count(stats_keys.ARTICLES_SPOOLED)} articles "
                     f"({count('cascrawl/db/rejects_spooled')} rejects) kept in the spool at {', '.join(map(str, files))}; "
                     "the next run writes them first")
    if lost:
        shown = " ".join(stats.get("cascrawl/db/lost_urls") or [])  # all of them: the log may be on the full disk too
        lines.append(f"error: {failure}: {lost} articles to fetch again (no spool directory had room: "
                     f"{'; '.join(stats.get('cascrawl/db/spool_refusals') or [])}); the next run fetches them: {shown}")
    return lines
