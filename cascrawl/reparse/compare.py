"""A stored article against what today's code makes of its archived page: the row a crawl would store, which
fields differ, and the text's difference for people. Pure: plain dicts in, plain data out."""

from __future__ import annotations

import difflib
from datetime import date
from typing import Any

from cascrawl.db.articles import _CONTENT_COLUMNS, _VALIDATOR_COLUMNS, _article_values
from cascrawl.db.reparse import ARCHIVE_COLUMNS

# The provenance entry a re-extraction adds to what it stores: {"run": id, "cascrawl": version}. Left out of
# the comparison, so that a second re-extraction with the same code finds nothing to change.
PROVENANCE_KEY = "reparse"
# The fields whose change is counted and shown, in this order; content_hash is title + text, so it is not one.
FIELDS = tuple(name for name in _CONTENT_COLUMNS if name != "content_hash")


def new_row(stored: dict[str, Any], item: dict[str, Any], marker: dict[str, Any]) -> dict[str, Any]:
    """The row to store for `stored` from the cleaned item of its archived page: the item's content, under
    the stored URL (a re-extraction never files an article elsewhere), with the stored HTTP validators and
    archive record (no new fetch happened), and the provenance marked with `marker`."""
    row = _article_values(item)
    row["url"] = stored["url"]
    for name in (*_VALIDATOR_COLUMNS, *ARCHIVE_COLUMNS):
        row[name] = stored.get(name)
    row["provenance"] = {**row["provenance"], PROVENANCE_KEY: dict(marker)}
    return row


def changed_fields(stored: dict[str, Any], row: dict[str, Any]) -> list[str]:
    """The fields of FIELDS whose value differs between the stored row and the new one (provenance without
    the re-extraction's own entry; dates and times compared as values, lists as JSON would hold them)."""
    changed = []
    for name in FIELDS:
        old, new = stored.get(name), row.get(name)
        if name == "provenance":
            old, new = _without_marker(old), _without_marker(new)
        elif name in ("attachments", "images", "videos"):
            old, new = list(old or []), list(new or [])
        elif name == "published_date":
            old, new = _as_date(old), _as_date(new)
        if old != new:
            changed.append(name)
    if not changed and stored.get("content_hash") != row.get("content_hash"):
        changed.append("content_hash")  # a hash rule changed: the upsert makes it a revision
    return changed


def text_diff(old: str | None, new: str | None, label: str, context: int = 1, max_lines: int = 40) -> list[str]:
    """A unified diff of two texts line by line (difflib), at most `max_lines` lines."""
    lines = list(difflib.unified_diff((old or "").splitlines(), (new or "").splitlines(),
                                      fromfile=f"{label} (stored)", tofile=f"{label} (today)", n=context, lineterm=""))
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"… {len(lines) - max_lines} more line(s)"]
    return lines


def _without_marker(provenance) -> dict:
    return {key: value for key, value in (provenance or {}).items() if key != PROVENANCE_KEY}


def _as_date(value):
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value
