"""Where the WARC archive of a database's crawls lives, or None when it is off.

CASCRAWL_WARC (default True) switches it; CASCRAWL_WARC_DIR chooses the folder: unset (None, the default)
means a `warc/` folder next to a SQLite database file, else `$XDG_STATE_HOME/cascrawl/warc`
(~/.local/state/cascrawl/warc), like the spool and the logs; a path is used as given; an empty value
(`-s CASCRAWL_WARC_DIR=`) turns the archive off, as CASCRAWL_WARC=False does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cascrawl.spool import default_spool_dir

DEFAULT_DATABASE_URL = "sqlite:///cascrawl.db"


def _get(settings: Any, name: str, default: Any = None) -> Any:
    if isinstance(settings, Mapping) or hasattr(settings, "get"):
        return settings.get(name, default)
    return getattr(settings, name, default)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def archive_dir(settings: Any) -> Path | None:
    """The archive folder for these settings (a Scrapy Settings or a plain mapping), or None when the
    archive is off. The folder is not created here."""
    if not _as_bool(_get(settings, "CASCRAWL_WARC", True)):
        return None
    configured = _get(settings, "CASCRAWL_WARC_DIR", None)
    if configured is not None:
        configured = str(configured).strip()
        if not configured:
            return None
        return Path(configured).expanduser()
    database_url = _get(settings, "CASCRAWL_DATABASE_URL", None) or DEFAULT_DATABASE_URL
    return default_spool_dir(str(database_url)) / "warc"
