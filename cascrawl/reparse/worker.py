"""One stored article re-extracted: its archived response read back, run through today's decoding, parsers and
cleaning pipelines (cascrawl.single_page, the crawl's own code), compared with the stored row. Runs in the
worker processes of `cascrawl reparse` (or in its own process for --processes 1); no database here."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cascrawl.run.verdict import (
    REPARSE_EXTRACTION_ERROR, REPARSE_NOT_ARCHIVED, REPARSE_REJECTED, REPARSE_TRUNCATED, REPARSE_UNREADABLE,
)

# Why an article was not re-extracted: the verdict's names (cascrawl/run/verdict.py says which are problems).
NOT_ARCHIVED = REPARSE_NOT_ARCHIVED
UNREADABLE = REPARSE_UNREADABLE
TRUNCATED = REPARSE_TRUNCATED
EXTRACTION_ERROR = REPARSE_EXTRACTION_ERROR
REJECTED = REPARSE_REJECTED  # + "/<reject reason>": today's rules would reject the page; the row stays as stored


@dataclass
class Outcome:
    """What re-extracting one article gave."""

    article_id: int
    kind: str  # changed | unchanged | skipped
    fields: list[str] = field(default_factory=list)  # changed: which fields differ
    row: dict[str, Any] | None = None  # changed: the row to store
    reason: str | None = None  # skipped: NOT_ARCHIVED, UNREADABLE, …
    detail: str = ""  # skipped: for the log
    template: str | None = None  # the parser today's code chose (or the stored one)
    stats: dict[str, Any] = field(default_factory=dict)  # what the spider and the pipelines counted


class Reextractor:
    """Built once per process from the run's settings; called once per stored row."""

    def __init__(self, overrides: dict[str, Any], archive: Path, marker: dict[str, Any]):
        from cascrawl.single_page import PageExtractor, project_settings

        self.extract = PageExtractor(project_settings(overrides))
        self.archive = Path(archive)
        self.marker = marker

    def safely(self, stored: dict[str, Any]) -> Outcome:
        """The outcome, whatever happens on the way: an unexpected error skips that article (named)."""
        try:
            return self(stored)
        except Exception as error:  # noqa: BLE001 - one page must not end the run
            return Outcome(stored["id"], "skipped", reason=EXTRACTION_ERROR, template=stored.get("template"),
                           detail=f"{type(error).__name__}: {error}"[:300])

    def __call__(self, stored: dict[str, Any]) -> Outcome:
        from cascrawl.archive.reader import ArchiveError, read_response
        from cascrawl.reparse.compare import changed_fields, new_row

        article_id, template = stored["id"], stored.get("template")
        if not stored.get("warc_file") or stored.get("warc_offset") is None:
            return Outcome(article_id, "skipped", reason=NOT_ARCHIVED, template=template)
        try:
            response = read_response(self.archive, stored["warc_file"], int(stored["warc_offset"]))
        except ArchiveError as error:
            return Outcome(article_id, "skipped", reason=UNREADABLE, detail=str(error), template=template)
        if response.truncated:
            return Outcome(article_id, "skipped", reason=TRUNCATED, template=template,
                           detail=f"{response.warc_file}#{response.offset}: body cut ({response.truncated})")
        provenance = stored.get("provenance") or {}
        # The listing's date is not in the page: when the stored date came from it, it is given again.
        listing_date = stored.get("published_date") if provenance.get("published") == "listing" else None
        if isinstance(listing_date, str):
            listing_date = date.fromisoformat(listing_date)
        try:
            page = self.extract(response.content(), response.header("Content-Type"), response.url, response.status,
                                listing_date=listing_date)
        except Exception as error:  # an operator's pipeline that raises: the stored row stays
            return Outcome(article_id, "skipped", reason=EXTRACTION_ERROR, template=template,
                           detail=f"{type(error).__name__}: {error}"[:300])
        item = page.item
        if page.rejected:
            reason, detail = page.rejected
            return Outcome(article_id, "skipped", reason=f"{REJECTED}/{reason}", detail=detail[:300],
                           template=item.get("template") or template, stats=page.stats)
        row = new_row(stored, item, self.marker)
        fields = changed_fields(stored, row)
        if not fields:
            return Outcome(article_id, "unchanged", template=row.get("template"), stats=page.stats)
        return Outcome(article_id, "changed", fields=fields, row=row, template=row.get("template"), stats=page.stats)


# --- the worker processes (multiprocessing.Pool, spawned) ---

_REEXTRACTOR: Reextractor | None = None


def start_worker(overrides: dict[str, Any], archive: str, marker: dict[str, Any]) -> None:
    """A worker's initializer: the terminal's Ctrl-C and a SIGTERM are the parent's to handle (it stops the
    workers when it has written what they finished)."""
    global _REEXTRACTOR
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _REEXTRACTOR = Reextractor(overrides, Path(archive), marker)


def ready(_) -> bool:
    return _REEXTRACTOR is not None


def work(stored: dict[str, Any]) -> Outcome:
    return _REEXTRACTOR.safely(stored)
