"""Writing WARC files: one request/response exchange at a time, each record one gzip member, appended
whole or not at all, files rotated at a size. Plain code (no Scrapy, no threads): the crawl's archive
extension (cascrawl/archive/crawl.py) runs it in a thread of its own.

Files are `<stem>-<seq>.warc.gz` (the stem carries the run and, in distributed mode, the worker), each
opened with exclusive creation: a file is never appended to by a later run or another writer, so a crawl
killed mid-write leaves its one torn record at the end of its own last file. An exchange is built in
memory first and written with one call; a write that fails (disk full) is cut back to where it began, so
the file stays a sequence of whole records."""

from __future__ import annotations

import io
import os
import re
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SUFFIX = ".warc.gz"
WARC_VERSION = "WARC/1.1"


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(moment: datetime | None = None) -> str:
    """WARC/1.1's date: UTC, to the microsecond."""
    moment = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def file_stem(run_id: int | None, worker: str | None = None) -> str:
    """`cascrawl-run<ID>` or, for a worker of a distributed crawl, `cascrawl-run<ID>-<worker>` (its name
    made safe for a file name)."""
    stem = f"cascrawl-run{run_id if run_id is not None else 0}"
    if worker:
        stem += "-" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", worker).strip("._") or "worker")
    return stem


@dataclass
class Exchange:
    """One fetch as it went over the wire: the request as sent, the response as received (body before any
    decompression)."""

    url: str
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes
    record_id: str = field(default_factory=new_record_id)  # the response record's WARC-Record-ID
    date: str = field(default_factory=warc_date)
    method: str = "GET"
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes = b""
    reason: str = ""
    protocol: str = "HTTP/1.1"
    ip: str | None = None
    truncated: str | None = None  # WARC-Truncated: length, time, disconnect, unspecified


@dataclass(frozen=True)
class RecordLocation:
    warc_file: str  # file name in the archive folder
    offset: int  # of the response record's gzip member
    record_id: str


def _request_target(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


# zlib's level 6 (gzip's own default): warcio compresses at 9, which costs a third more CPU for about 0.1%
# smaller files on HTML; the crawl shares the machine's cores with the archive.
GZIP_LEVEL = 6


def _gzip_member(writer: WARCWriter, record) -> bytes:
    """The record as one gzip member of its own: written plain by warcio, compressed here."""
    buffer = writer.out
    buffer.seek(0)
    buffer.truncate()
    writer.write_record(record)
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(buffer.getvalue()) + compressor.flush()


def encode_exchange(exchange: Exchange) -> tuple[bytes, int]:
    """The response record then its request record, each a gzip member: (the bytes, the length of the
    response record's member)."""
    writer = WARCWriter(io.BytesIO(), gzip=False, warc_version=WARC_VERSION)
    headers = list(exchange.response_headers)
    # The body is kept as received after Twisted undid the chunked transfer coding: a reader must not
    # de-chunk it again (Common Crawl's convention: the header kept under another name).
    headers = [(("X-Crawler-Transfer-Encoding" if key.lower() == "transfer-encoding" else key), value)
               for key, value in headers]
    status_line = f"{exchange.status} {exchange.reason}".strip() if exchange.reason else str(exchange.status)
    http = StatusAndHeaders(status_line, headers, protocol=exchange.protocol, is_http_request=False)
    warc_headers = {"WARC-Record-ID": exchange.record_id, "WARC-Date": exchange.date}
    if exchange.ip:
        warc_headers["WARC-IP-Address"] = exchange.ip
    if exchange.truncated:
        warc_headers["WARC-Truncated"] = exchange.truncated
    response = writer.create_warc_record(exchange.url, "response", payload=io.BytesIO(exchange.body),
                                         length=len(exchange.body), http_headers=http,
                                         warc_headers_dict=warc_headers)
    response_member = _gzip_member(writer, response)
    request_http = StatusAndHeaders(f"{exchange.method} {_request_target(exchange.url)}",
                                    list(exchange.request_headers), protocol=exchange.protocol,
                                    is_http_request=True)
    request = writer.create_warc_record(exchange.url, "request", payload=io.BytesIO(exchange.request_body),
                                        length=len(exchange.request_body), http_headers=request_http,
                                        warc_headers_dict={"WARC-Date": exchange.date,
                                                           "WARC-Concurrent-To": exchange.record_id})
    return response_member + _gzip_member(writer, request), len(response_member)


def warcinfo_record(filename: str, info: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version=WARC_VERSION)
    writer.write_record(writer.create_warcinfo_record(filename, info))
    return buffer.getvalue()


class ArchiveFiles:
    """The WARC files of one writer (one run, one worker): the current file, rotated past `max_bytes`."""

    def __init__(self, directory: Path, stem: str, max_bytes: int, info: dict[str, str] | None = None):
        self.directory = Path(directory)
        self.stem = stem
        self.max_bytes = max(0, int(max_bytes))
        self.info = dict(info or {"software": "cascrawl", "format": "WARC File Format 1.1"})
        self.handle = None
        self.name: str | None = None
        self.size = 0
        self.files: list[str] = []  # every file this writer opened, in order
        self.bytes_written = 0
        self.records = 0

    def _next_path(self) -> Path:
        existing = [int(match.group(1)) for path in self.directory.glob(f"{self.stem}-*{SUFFIX}")
                    if (match := re.fullmatch(re.escape(self.stem) + r"-(\d+)" + re.escape(SUFFIX), path.name))]
        return self.directory / f"{self.stem}-{max(existing, default=0) + 1:05d}{SUFFIX}"

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            path = self._next_path()
            try:
                # never an existing file (another writer's, a killed run's); unbuffered: a failed write leaves
                # nothing behind in a buffer to be flushed later
                handle = open(path, "xb", buffering=0)
            except FileExistsError:
                continue
            break
        self.handle, self.name, self.size = handle, path.name, 0
        self.files.append(path.name)
        try:
            self._append(warcinfo_record(path.name, self.info))
        except OSError:
            self._drop_current()
            raise

    def _drop_current(self) -> None:
        """The current file given up (a failed write could not be cut back): the next record opens another."""
        handle, self.handle = self.handle, None
        if handle is not None:
            try:
                handle.close()
            except OSError:
                pass

    def _append(self, data: bytes) -> int:
        """`data` at the end of the current file, whole or not at all (cut back on failure); its offset."""
        offset = self.size
        try:
            view = memoryview(data)
            while view:
                written = self.handle.write(view)
                view = view[written:]
        except OSError:
            try:
                self.handle.truncate(offset)
                self.handle.seek(offset)
            except OSError:
                self._drop_current()
            raise
        self.size += len(data)
        self.bytes_written += len(data)
        return offset

    def write(self, exchange: Exchange) -> RecordLocation:
        """The exchange's two records appended; where its response record is. OSError when it could not be
        written (nothing of it is left in the file then, as far as the file system allows)."""
        return self.write_encoded(encode_exchange(exchange)[0], exchange.record_id)

    def write_encoded(self, data: bytes, record_id: str) -> RecordLocation:
        """`write` of an exchange already encoded (encode_exchange), whose response record has `record_id`."""
        if self.handle is not None and self.max_bytes and self.size + len(data) > self.max_bytes and self.size:
            self.close()
        if self.handle is None:
            self._open()
        offset = self._append(data)
        self.records += 2
        return RecordLocation(self.name, offset, record_id)

    def close(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            try:
                os.fsync(handle.fileno())
            except OSError:
                pass
            finally:
                try:
                    handle.close()
                except OSError:
                    pass
