"""The spool: articles and rejects that could not be written because the database stayed away,
kept as JSON lines until the next run writes them (before it crawls).

One file per run that spooled, named after the database it was meant for, so that a spool is only
ever replayed into its own database: `cascrawl-spool-<database key>-run<id>.jsonl`, in
CASCRAWL_SPOOL_DIR, by default next to a SQLite file, else in $XDG_STATE_HOME/cascrawl (or
~/.local/state/cascrawl).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from cascrawl.db.store import safe_url


def default_spool_dir(database_url: str) -> Path:
    try:
        parsed = make_url(database_url)
    except Exception:  # an unparseable URL never gets this far; be safe anyway
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not parsed.database.startswith("file:"):
            return Path(parsed.database).resolve().parent
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "cascrawl"


def database_key(database_url: str) -> str:
    """A short name for the database (its URL without the password), the same in every run."""
    return hashlib.sha256(safe_url(database_url).encode("utf-8")).hexdigest()[:12]


class Spool:
    def __init__(self, directory: str | Path | None, database_url: str):
        self.directory = Path(directory) if directory else default_spool_dir(database_url)
        self.key = database_key(database_url)

    def path_for_run(self, run_id: int | None) -> Path:
        return self.directory / f"cascrawl-spool-{self.key}-run{run_id if run_id is not None else 0}.jsonl"

    def pending(self) -> list[Path]:
        """Spool files of this database, oldest run first."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"cascrawl-spool-{self.key}-run*.jsonl"), key=lambda p: p.stat().st_mtime)

    @staticmethod
    def append(path: Path, articles: Iterable[dict[str, Any]], rejects: Iterable[dict[str, Any]]) -> int:
        """Add rows to a spool file; flushed and fsynced before returning. Returns the lines written."""
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with open(path, "a", encoding="utf-8") as handle:
            for kind, rows in (("article", articles), ("reject", rejects)):
                for row in rows:
                    handle.write(json.dumps({"kind": kind, "row": row}, ensure_ascii=False, default=_encode) + "\n")
                    written += 1
            handle.flush()
            os.fsync(handle.fileno())
        return written

    @staticmethod
    def read(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(articles, rejects) of a spool file. A last line cut short by a crash is skipped."""
        articles, rejects = [], []
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line, object_hook=_decode)
                except json.JSONDecodeError:
                    continue
                (articles if record.get("kind") == "article" else rejects).append(record["row"])
        return articles, rejects


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
