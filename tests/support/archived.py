"""A database of articles whose responses are in a WARC archive, made without a crawl: each page written as a
WARC/1.1 response record by warcio (the library the crawl's archive writer uses) and stored as the crawl
stores it (cascrawl.single_page: the spider's callback and the cleaning pipelines, then the upsert), with
the record's file, offset and id on its row. For the re-extraction tests and scripts/bench_reparse.py."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


@dataclass(frozen=True)
class Page:
    url: str  # as fetched
    body: bytes  # as served (before any Content-Encoding)
    content_type: str | None = "text/html"
    status: int = 200
    extra_headers: tuple[tuple[str, str], ...] = ()
    truncated: str | None = None  # WARC-Truncated: the crawl cut the body at its size limit


@dataclass(frozen=True)
class Archived:
    url: str
    warc_file: str  # relative to the archive folder
    offset: int
    record_id: str


def write_warc(folder: Path, pages: list[Page], name: str = "cascrawl-run1-00000.warc.gz") -> list[Archived]:
    """One gzipped WARC file in `folder`: a response record per page (one gzip member each), in order."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with open(folder / name, "wb") as handle:
        writer = WARCWriter(handle, gzip=True, warc_version="WARC/1.1")
        for page in pages:
            headers = [("Content-Length", str(len(page.body))), *page.extra_headers]
            if page.content_type:
                headers.insert(0, ("Content-Type", page.content_type))
            http = StatusAndHeaders(f"{page.status} {'OK' if page.status == 200 else 'Error'}", headers,
                                    protocol="HTTP/1.1")
            warc_headers = {"WARC-Truncated": page.truncated} if page.truncated else {}
            record = writer.create_warc_record(page.url, "response", payload=io.BytesIO(page.body),
                                               http_headers=http, warc_headers_dict=warc_headers)
            offset = handle.tell()
            writer.write_record(record)
            written.append(Archived(page.url, name, offset, record.rec_headers.get_header("WARC-Record-ID")))
    return written


def store_archived(database_url: str, archive: Path, pages: list[Page], settings: dict | None = None,
                   name: str = "cascrawl-run1-00000.warc.gz", archived: bool = True,
                   seen_at: datetime | None = None) -> list[dict]:
    """The pages archived (unless `archived` is False) and stored as a crawl stores them, with their
    records on their rows; returns the rows stored (the ones today's rules do not reject)."""
    from cascrawl.db import Database
    from cascrawl.single_page import PageExtractor

    records = write_warc(archive, pages, name) if archived else [None] * len(pages)
    extract = PageExtractor(settings or {})
    rows = []
    for page, record in zip(pages, records):
        stored = extract(page.body, page.content_type, page.url, page.status)
        if stored.rejected:
            continue
        row = dict(stored.item)
        if record is not None:
            row.update(warc_file=record.warc_file, warc_offset=record.offset, warc_record_id=record.record_id)
        rows.append(row)
    database = Database(database_url).open()
    try:
        database.upsert_articles(rows, seen_at=seen_at or datetime.now(timezone.utc))
    finally:
        database.close()
    return rows


def fixture_pages(site: Path, base: str = "https://www.cas.cn") -> list[Page]:
    """The fixture copy's article pages (every `t<date>_<docid>.shtml`) as the site would serve them."""
    return [Page(f"{base}/{path.relative_to(site).as_posix()}", path.read_bytes())
            for path in sorted(site.rglob("t*.shtml"))]
