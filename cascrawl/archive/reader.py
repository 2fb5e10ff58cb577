"""Reading the WARC archive back: one archived response by its file and offset, or every response of a
file, as plain data (no Scrapy, no database).

The payload is the body as the site served it (Content-Encoding still applied, as the archive keeps
it); `ArchivedResponse.content()` undoes the encoding the way Scrapy's HttpCompressionMiddleware would
before the spider saw the page. A record cut short (a crawl killed while writing it, a full disk) can only
be the last one of its file: reading stops there with a warning, never an exception."""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

logger = logging.getLogger(__name__)

# What a cut gzip member or a garbled record raises from warcio and the decompressors below it.
_READ_ERRORS = (ArchiveLoadFailed, EOFError, zlib.error, OSError, ValueError, IndexError, AttributeError)


class ArchiveError(Exception):
    """An archived response that cannot be read: its file is missing, or the record at that offset is not a
    whole response record."""


@dataclass(frozen=True)
class ArchivedResponse:
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # the payload as the site served it (may be Content-Encoded)
    record_id: str
    warc_file: str  # file name relative to the archive dir
    offset: int
    warc_date: str
    truncated: str | None  # WARC-Truncated reason, if the body was cut

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or None."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    def content(self) -> bytes:
        """The body with Content-Encoding undone, as Scrapy would hand it to the spider (an encoding this
        cannot undo, or a body that does not decode, is handed over as it is, as Scrapy does)."""
        encodings = [part.strip().lower() for value in (v for k, v in self.headers if k.lower() == "content-encoding")
                     for part in value.split(",") if part.strip()]
        body = self.body
        for encoding in reversed(encodings):
            decoded = _decode(body, encoding)
            if decoded is None:
                return body
            body = decoded
        return body


def _decode(body: bytes, encoding: str) -> bytes | None:
    try:
        if encoding in ("gzip", "x-gzip"):
            # several members, and a last one cut short, as Scrapy's own gunzip reads them
            out, data = [], body
            while data:
                decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                try:
                    out.append(decompressor.decompress(data))
                except zlib.error:
                    if out:
                        break
                    raise
                data = decompressor.unused_data
                if not decompressor.eof:
                    break
            return b"".join(out)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some servers send it
        if encoding == "br":
            import brotli  # optional, as in Scrapy

            return brotli.decompress(body)
        if encoding == "zstd":
            import zstandard  # optional, as in Scrapy

            return zstandard.ZstdDecompressor().stream_reader(body).read()
        if encoding == "identity":
            return body
    except (zlib.error, ImportError, Exception):  # noqa: BLE001 - a body that does not decode stays as served
        return None
    return None


def _whole(record) -> bool:
    """Whether the record's WARC header block is all there (a record cut inside it lacks the fields written
    last: Content-Length is)."""
    headers = record.rec_headers
    return bool(record.rec_type and headers.get_header("WARC-Record-ID") and headers.get_header("Content-Length"))


def _read_all(stream) -> tuple[bytes, bool]:
    """A record's remaining content, and whether all of it was there (its Content-Length reached)."""
    parts = []
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        parts.append(chunk)
    return b"".join(parts), not getattr(stream, "limit", 0)


def _response_of(record, body: bytes, warc_file: str, offset: int) -> ArchivedResponse:
    headers = record.rec_headers
    http = record.http_headers
    return ArchivedResponse(
        url=headers.get_header("WARC-Target-URI") or "",
        status=int(http.get_statuscode() or 0),
        headers=[(str(key), str(value)) for key, value in http.headers],
        body=body,
        record_id=headers.get_header("WARC-Record-ID") or "",
        warc_file=warc_file,
        offset=offset,
        warc_date=headers.get_header("WARC-Date") or "",
        truncated=headers.get_header("WARC-Truncated"),
    )


def read_response(archive_dir: Path, warc_file: str, offset: int) -> ArchivedResponse:
    """The response record at `offset` of `archive_dir/warc_file`; ArchiveError when the file is missing or
    the record there is not a whole response."""
    path = Path(archive_dir) / warc_file
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise ArchiveError(f"archive file {path} does not exist (moved or pruned?)") from None
    except OSError as error:
        raise ArchiveError(f"archive file {path} cannot be read: {error.strerror or error}") from None
    with handle:
        try:
            handle.seek(offset)
            record = next(iter(ArchiveIterator(handle)), None)
            if record is None:
                raise ArchiveError(f"no record at offset {offset} of {path}")
            if not _whole(record):
                raise ArchiveError(f"no whole record at offset {offset} of {path} (truncated?)")
            if record.rec_type != "response" or record.http_headers is None:
                raise ArchiveError(f"the record at offset {offset} of {path} is a {record.rec_type} record, "
                                   "not a response")
            body, whole = _read_all(record.raw_stream)
        except _READ_ERRORS as error:
            raise ArchiveError(f"no readable record at offset {offset} of {path}: {error}") from None
    if not whole:
        raise ArchiveError(f"the record at offset {offset} of {path} is cut short (its file ends inside it)")
    return _response_of(record, body, warc_file, offset)


def _walk(path: Path) -> Iterator[tuple[object, bytes, int] | tuple[None, str, int]]:
    """(record, its content, offset) for each whole record of a file, in order; then, if the file ends with
    a torn record, (None, what is wrong, its offset) and nothing more."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        archive = ArchiveIterator(handle)
        records = iter(archive)
        end = 0  # where the last whole record ends
        while True:
            try:
                record = next(records)
                body, whole = _read_all(record.raw_stream)
                offset, length = archive.get_record_offset(), archive.get_record_length()
            except StopIteration:
                break
            except _READ_ERRORS as error:
                yield None, f"a truncated or unreadable record ({error})", end
                return
            if not whole or not _whole(record):
                yield None, "a truncated record (the file ends inside it)", offset
                return
            end = offset + length
            yield record, body, offset
        if end < size:
            yield None, f"{size - end} bytes that are not a whole record (truncated)", end


def iter_responses(path: Path) -> Iterator[ArchivedResponse]:
    """Every response record of one WARC file, in order. A record cut short ends the iteration with a
    warning (only the last record of a file can be: a crawl killed or a disk filled while writing it)."""
    path = Path(path)
    for record, body, offset in _walk(path):
        if record is None:
            logger.warning("%s: %s at offset %d: reading of the file stops there", path, body, offset)
            return
        if record.rec_type == "response" and record.http_headers is not None:
            yield _response_of(record, body, path.name, offset)


def torn_offset(path: Path) -> int | None:
    """Where the torn record at the end of a WARC file begins, or None when the file ends with a whole
    record."""
    for record, _, offset in _walk(Path(path)):
        if record is None:
            return offset
    return None
