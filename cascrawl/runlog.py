"""Where a crawl's full Scrapy log goes: one file per run, in CASCRAWL_LOG_DIR (by default a `logs/` folder
next to a SQLite database, else $XDG_STATE_HOME/cascrawl/logs), the oldest removed beyond CASCRAWL_LOG_KEEP.

The file is Scrapy's own LOG_FILE; the run record keeps its path (crawl_runs.log_file)."""

from __future__ import annotations

import logging
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import make_url

from cascrawl.spool import default_spool_dir


def log_dir(database_url: str, configured: str = "") -> Path:
    if configured:
        return Path(configured).expanduser()
    return default_spool_dir(database_url) / "logs"  # next to a SQLite file, else the state directory


def _database_name(database_url: str) -> str:
    """`cascrawl` for sqlite:///cascrawl.db, the database name on a server: runs of two databases sharing a
    folder get files of their own."""
    try:
        name = make_url(database_url).database or "cascrawl"
    except Exception:
        name = "cascrawl"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem) or "cascrawl"


def new_log_file(database_url: str, configured_dir: str = "", keep: int = 100, now: datetime | None = None) -> Path:
    """The path of a new run's log file (its folder created); older files of the same database beyond
    `keep` (counting this one) are removed, oldest first. keep = 0 keeps every file."""
    folder = log_dir(database_url, configured_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _database_name(database_url)
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stem}-{stamp}.log"
    suffix = 1
    while path.exists():  # two runs in one second (a refused second run, a test)
        suffix += 1
        path = folder / f"{stem}-{stamp}-{suffix}.log"
    if keep > 0:
        older = sorted(folder.glob(f"{stem}-[0-9]*T[0-9]*Z*.log"), key=lambda found: (found.stat().st_mtime, found.name))
        for stale in older[:max(0, len(older) - (keep - 1))]:
            try:
                stale.unlink()
            except OSError:
                pass
    return path


def stream_handler(level: str | int, log_format: str, date_format: str) -> logging.Handler:
    """A handler that also shows the log on standard error (`--verbose`, or `-s LOG_LEVEL=…`), in Scrapy's format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(log_format, date_format))
    handler.setLevel(level)
    return handler


def guard_log_files() -> None:
    """A log file that cannot be written (its disk full, say) costs the log, not the run: one line on standard
    error the first time, instead of Python's "--- Logging error ---" and a traceback for every line. Set on
    the class: Scrapy replaces the root handler when the crawl starts."""
    logging.FileHandler.handleError = _log_file_error


def _log_file_error(handler: logging.FileHandler, record: logging.LogRecord) -> None:
    if getattr(handler, "cascrawl_told", False):
        return
    handler.cascrawl_told = True
    error = sys.exc_info()[1]
    reason = getattr(error, "strerror", None) or error or "unknown error"
    try:
        sys.stderr.write(f"cascrawl: cannot write the log file {handler.baseFilename} ({reason}): "
                         "log lines are being lost\n")
        sys.stderr.flush()
    except Exception:  # nowhere to say it either
        pass


# --- reading a run's log back (the operator page) ---

LOG_SUFFIX = ".log"


def readable_log(stored: str | None) -> tuple[Path | None, str]:
    """(the file, '') when the run's recorded log file can be shown, else (None, why not). Only the path as the
    run recorded it: absolute, a regular `.log` file, reached without `..` or a symbolic link (so a row pointing
    elsewhere, or a link planted in the log folder, shows nothing)."""
    if not stored:
        return None, "no log file recorded for this run"
    path = Path(stored)
    if not path.is_absolute() or ".." in path.parts or path.suffix != LOG_SUFFIX:
        return None, f"{stored}: not a log file a run records"
    try:
        if path.resolve(strict=True) != path:
            return None, f"{stored}: reached through a symbolic link, not shown"
        if not path.is_file():
            return None, f"{stored}: not a regular file"
    except (OSError, RuntimeError):
        return None, f"{stored} (no longer there: removed, or on another machine)"
    return path, ""


def read_tail(path: Path, max_bytes: int) -> tuple[str, bool]:
    """The last `max_bytes` of the file as text (whole lines; undecodable bytes replaced), and whether the
    file holds more before them."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        start = max(0, size - max_bytes)
        handle.seek(start)
        data = handle.read(max_bytes)
    if start:
        newline = data.find(b"\n")
        data = data[newline + 1:] if newline >= 0 else data
    return data.decode("utf-8", errors="replace"), start > 0
