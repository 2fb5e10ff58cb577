"""The WARC archive's contract on its own: where it lives (archive_dir), what the writer puts in a file and
the reader gets back (headers, the body as served, decoded as Scrapy would), and what a torn file or a
wrong offset gives: a warning and the whole records, or a clear ArchiveError."""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from pathlib import Path

import pytest
from scrapy.settings import Settings
from warcio.archiveiterator import ArchiveIterator

from cascrawl.archive.paths import archive_dir
from cascrawl.archive.reader import ArchiveError, ArchivedResponse, iter_responses, read_response
from cascrawl.archive.writer import ArchiveFiles, Exchange, file_stem

PAGE = "<html><head><title>中国科学院</title></head><body><p>正文</p></body></html>".encode("utf-8")


# --- where ---

def test_archive_dir_is_next_to_a_sqlite_file_by_default(tmp_path):
    database = tmp_path / "crawl.db"
    assert archive_dir({"CASCRAWL_DATABASE_URL": f"sqlite:///{database}"}) == tmp_path / "warc"
    settings = Settings({"CASCRAWL_DATABASE_URL": f"sqlite:///{database}", "CASCRAWL_WARC": True})
    assert archive_dir(settings) == tmp_path / "warc"


def test_archive_dir_of_a_server_database_is_the_state_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    url = "postgresql+psycopg://me@db.example/news"
    assert archive_dir({"CASCRAWL_DATABASE_URL": url}) == tmp_path / "state" / "cascrawl" / "warc"


def test_archive_dir_as_configured_or_off(tmp_path):
    url = f"sqlite:///{tmp_path / 'crawl.db'}"
    assert archive_dir({"CASCRAWL_DATABASE_URL": url, "CASCRAWL_WARC_DIR": str(tmp_path / "a")}) == tmp_path / "a"
    assert archive_dir({"CASCRAWL_DATABASE_URL": url, "CASCRAWL_WARC_DIR": ""}) is None
    assert archive_dir({"CASCRAWL_DATABASE_URL": url, "CASCRAWL_WARC": False}) is None
    assert archive_dir(Settings({"CASCRAWL_DATABASE_URL": url, "CASCRAWL_WARC": "False"})) is None
    from cascrawl import settings as defaults

    assert defaults.CASCRAWL_WARC is True and defaults.CASCRAWL_WARC_DIR is None  # on by default


# --- written, read back ---

def _write(folder: Path, *exchanges: Exchange, max_bytes: int = 10**9):
    files = ArchiveFiles(folder, file_stem(7), max_bytes)
    try:
        return [files.write(exchange) for exchange in exchanges], files
    finally:
        files.close()


def _page(url="http://127.0.0.1:8000/syky/202401/t20240101_1.shtml", body=None, **kwargs) -> Exchange:
    served = gzip.compress(PAGE) if body is None else body
    headers = kwargs.pop("headers", [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"),
                                     ("Content-Length", str(len(served))), ("ETag", '"abc"')])
    return Exchange(url, kwargs.pop("status", 200), headers, served,
                    request_headers=[("Host", "127.0.0.1:8000"), ("User-Agent", "cascrawl-test")], **kwargs)


def test_a_response_comes_back_as_served(tmp_path):
    exchange = _page()
    (location,), _ = _write(tmp_path, exchange)
    assert location.warc_file == "cascrawl-run7-00001.warc.gz" and location.record_id == exchange.record_id
    response = read_response(tmp_path, location.warc_file, location.offset)
    assert isinstance(response, ArchivedResponse)
    assert (response.url, response.status, response.record_id) == (exchange.url, 200, exchange.record_id)
    assert response.headers == exchange.response_headers
    assert response.body == exchange.body  # as served: still gzipped
    assert response.content() == PAGE  # as the spider saw it
    assert response.warc_date == exchange.date and response.truncated is None
    assert (response.warc_file, response.offset) == (location.warc_file, location.offset)
    assert response.header("etag") == '"abc"'


def test_each_record_is_one_gzip_member_with_its_request(tmp_path):
    (location,), _ = _write(tmp_path, _page())
    path = tmp_path / location.warc_file
    with open(path, "rb") as handle:
        kinds = [(record.rec_type, record.rec_headers.get_header("WARC-Concurrent-To"),
                  record.rec_headers.protocol) for record in ArchiveIterator(handle)]
    exchange_id = read_response(tmp_path, location.warc_file, location.offset).record_id
    assert kinds == [("warcinfo", None, "WARC/1.1"), ("response", None, "WARC/1.1"),
                     ("request", exchange_id, "WARC/1.1")]
    # every member decompresses on its own: the file is a plain concatenation of gzip members
    data, members = path.read_bytes(), 0
    while data:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        decompressor.decompress(data)
        assert decompressor.eof
        data, members = decompressor.unused_data, members + 1
    assert members == 3


def test_content_undoes_each_encoding_as_scrapy_would(tmp_path):
    def content(body: bytes, encoding: str | None) -> bytes:
        headers = [("Content-Encoding", encoding)] if encoding else []
        return ArchivedResponse("u", 200, headers, body, "id", "f", 0, "d", None).content()

    assert content(PAGE, None) == PAGE
    assert content(zlib.compress(PAGE), "deflate") == PAGE
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert content(raw.compress(PAGE) + raw.flush(), "deflate") == PAGE
    assert content(gzip.compress(gzip.compress(PAGE)), "gzip, gzip") == PAGE
    assert content(b"not gzip at all", "gzip") == b"not gzip at all"  # handed over as served
    assert content(PAGE, "identity") == PAGE


def test_a_truncated_body_says_so(tmp_path):
    (location,), _ = _write(tmp_path, _page(body=PAGE[:20], headers=[("Content-Length", str(len(PAGE)))],
                                            truncated="length"))
    response = read_response(tmp_path, location.warc_file, location.offset)
    assert response.truncated == "length" and response.body == PAGE[:20]


def test_files_rotate_at_the_size_and_never_reuse_a_name(tmp_path):
    pages = [_page(url=f"http://127.0.0.1:8000/syky/202401/t20240101_{n}.shtml", body=os.urandom(2048))
             for n in range(6)]
    locations, files = _write(tmp_path, *pages, max_bytes=5000)
    assert len(files.files) >= 3 and files.files == sorted(files.files)
    assert [read_response(tmp_path, loc.warc_file, loc.offset).url for loc in locations] == [p.url for p in pages]
    later, _ = _write(tmp_path, _page())  # the same run id again (a second writer): a file of its own
    assert later[0].warc_file not in files.files
    for name in files.files:
        assert (tmp_path / name).stat().st_size <= 5000 + 3000


def test_iteration_reads_every_response_in_order(tmp_path):
    pages = [_page(url=f"http://127.0.0.1:8000/a{n}") for n in range(3)]
    locations, _ = _write(tmp_path, *pages)
    found = list(iter_responses(tmp_path / locations[0].warc_file))
    assert [(r.url, r.offset, r.record_id) for r in found] == [(p.url, l.offset, p.record_id)
                                                               for p, l in zip(pages, locations)]
    assert all(r.content() == PAGE for r in found)


@pytest.mark.parametrize("keep", [40, 200, -30])
def test_a_torn_last_record_ends_the_iteration_with_a_warning(tmp_path, caplog, keep):
    pages = [_page(url=f"http://127.0.0.1:8000/a{n}") for n in range(3)]
    locations, _ = _write(tmp_path, *pages)
    path = tmp_path / locations[0].warc_file
    data = path.read_bytes()
    # cut inside the last response record (40 or 200 bytes of it kept), or inside its request record
    path.write_bytes(data[:locations[-1].offset + keep] if keep > 0 else data[:keep])
    with caplog.at_level(logging.WARNING, logger="cascrawl.archive.reader"):
        found = [r.url for r in iter_responses(path)]
    assert found == [p.url for p in pages[:2]] + ([pages[2].url] if keep < 0 else [])
    assert any("truncated" in record.getMessage() for record in caplog.records)


def test_read_response_says_what_is_wrong(tmp_path):
    (location,), _ = _write(tmp_path, _page())
    with pytest.raises(ArchiveError, match="does not exist"):
        read_response(tmp_path, "cascrawl-run99-00001.warc.gz", 0)
    with pytest.raises(ArchiveError, match="warcinfo record, not a response"):
        read_response(tmp_path, location.warc_file, 0)
    size = (tmp_path / location.warc_file).stat().st_size
    with pytest.raises(ArchiveError):
        read_response(tmp_path, location.warc_file, size)
    with pytest.raises(ArchiveError):
        read_response(tmp_path, location.warc_file, location.offset + 3)  # not the start of a record
    path = tmp_path / location.warc_file
    path.write_bytes(path.read_bytes()[:location.offset + 200])
    with pytest.raises(ArchiveError):
        read_response(tmp_path, location.warc_file, location.offset)
