"""The WARC archive of a real crawl of the fixture copy: standard tools read it (`warcio check`, `warcio
index`, and a second library, FastWARC), every article row points at the response it came from, whose body
is byte for byte what the local server served; `runs show`, `articles show --raw` and GET
/articles/{id}/raw show it; with the archive off, nothing is written and the readers say why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cascrawl import stats_keys
from cascrawl.api.app import create_app
from cascrawl.archive.reader import iter_responses, read_response
from cascrawl.db import Article, Database, reads

from .conftest import FAST, SITE, run_cascrawl

BIN = Path(sys.executable).parent


def _rows(db_url: str) -> list[Article]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(Article).order_by(Article.id)))
    finally:
        engine.dispose()


def _archive(db_url: str) -> Path:
    return Path(db_url.removeprefix("sqlite:///")).parent / "warc"


def _served(url: str) -> bytes:
    """What the fixture server sends for this URL: the file's bytes."""
    path = SITE / urlsplit(url).path.lstrip("/")
    return (path / "index.shtml" if path.is_dir() else path).read_bytes()


def _stats(db_url: str) -> dict:
    database = Database(db_url)
    try:
        return reads.get_run(database)["stats"]
    finally:
        database.close()


def test_every_article_points_at_the_response_it_came_from_as_served(crawled):
    db_url, _ = crawled
    folder = _archive(db_url)
    rows = _rows(db_url)
    assert rows and all(row.warc_file and row.warc_offset is not None and row.warc_record_id for row in rows)
    for row in rows:
        response = read_response(folder, row.warc_file, row.warc_offset)
        assert response.record_id == row.warc_record_id and response.url == row.fetched_url
        assert response.status == 200 and response.body == _served(row.fetched_url)


def test_the_archive_holds_listing_pages_and_robots_txt_and_counts_them(crawled):
    db_url, _ = crawled
    files = sorted(_archive(db_url).glob("*.warc.gz"))
    assert [path.name for path in files] == ["cascrawl-run1-00001.warc.gz"]
    assert not list(_archive(db_url).glob("*.open"))  # closed: its marker gone
    responses = [response for path in files for response in iter_responses(path)]
    paths = {urlsplit(response.url).path for response in responses}
    assert "/robots.txt" in paths and any(path.endswith("/") for path in paths)  # robots.txt, section listings
    stats = _stats(db_url)
    assert stats[stats_keys.WARC_RECORDS] == 2 * len(responses) == 2 * stats["downloader/response_count"]
    assert stats[stats_keys.WARC_BYTES] == sum(path.stat().st_size for path in files)
    assert stats[stats_keys.WARC_FILES] == 1 and not stats.get(stats_keys.WARC_GAPS)


def test_warcio_checks_and_indexes_the_archive(crawled):
    db_url, _ = crawled
    (path,) = _archive(db_url).glob("*.warc.gz")
    check = subprocess.run([str(BIN / "warcio"), "check", "-v", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    assert "digest pass" in check.stdout and "fail" not in check.stdout
    index = subprocess.run([str(BIN / "warcio"), "index", "-f", "warc-type,offset", str(path)],
                           capture_output=True, text=True)
    assert index.returncode == 0, index.stderr
    kinds = [line for line in index.stdout.splitlines() if line.strip()]
    responses = sum('"response"' in line for line in kinds)
    assert responses == sum('"request"' in line for line in kinds) == _stats(db_url)["downloader/response_count"]
    offsets = {row.warc_offset for row in _rows(db_url)}
    assert offsets <= {int(line.split('"offset": "')[1].split('"')[0]) for line in kinds if '"response"' in line}


def test_a_second_library_reads_a_record_byte_for_byte(crawled):
    fastwarc = pytest.importorskip("fastwarc.warc", reason="FastWARC is a test dependency (pyproject [test])")
    db_url, _ = crawled
    row = _rows(db_url)[0]
    with open(_archive(db_url) / row.warc_file, "rb") as handle:
        handle.seek(row.warc_offset)
        record = next(iter(fastwarc.ArchiveIterator(handle, parse_http=True)))
        assert record.record_type == fastwarc.WarcRecordType.response
        assert record.record_id == row.warc_record_id and record.headers["WARC-Target-URI"] == row.fetched_url
        assert record.verify_payload_digest(consume=False)  # the WARC-Payload-Digest warcio wrote
        assert record.http_headers.status_code == 200 and record.reader.read() == _served(row.fetched_url)
        handle.seek(row.warc_offset)
        assert next(iter(fastwarc.ArchiveIterator(handle, parse_http=False))).verify_block_digest()


def test_the_readers_show_the_archived_response(crawled):
    db_url, _ = crawled
    row = _rows(db_url)[0]
    shown = run_cascrawl("runs", "show", "latest", "--db", db_url)
    assert shown.returncode == 0, shown.stderr
    stats = _stats(db_url)
    assert (f"archive   {stats[stats_keys.WARC_RECORDS]} records, {stats[stats_keys.WARC_BYTES]} bytes in 1 file"
            in shown.stdout)
    raw = run_cascrawl("articles", "show", str(row.id), "--raw", "--db", db_url)
    assert raw.returncode == 0, raw.stderr
    head, _, body = raw.stdout.partition("\n\n")
    assert f"# WARC record {row.warc_record_id} in {row.warc_file} at offset {row.warc_offset}" in head
    assert "\n200 OK\n" in head and "Content-Type: text/html" in head
    assert body.rstrip("\n") == _served(row.fetched_url).decode("utf-8").rstrip("\n")
    database = Database(db_url).open(create=False)
    try:
        with TestClient(create_app(database)) as client:
            answer = client.get(f"/articles/{row.id}/raw")
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
            assert answer.text.rstrip("\n") == raw.stdout.rstrip("\n")
            missing = client.get("/articles/999999/raw")
            assert missing.status_code == 404 and "no article with id 999999" in missing.text
    finally:
        database.close()


def test_with_the_archive_off_nothing_is_written_and_the_readers_say_why(site_url, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'off.db'}"
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "yw", *FAST,
                          "-s", "CASCRAWL_WARC=False")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tmp_path / "warc").exists()
    rows = _rows(db_url)
    assert rows and all(row.warc_file is None and row.warc_offset is None and row.warc_record_id is None
                        for row in rows)
    assert not any(key.startswith("cascrawl/warc/") for key in _stats(db_url))
    raw = run_cascrawl("articles", "show", str(rows[0].id), "--raw", "--db", db_url)
    assert raw.returncode == 3 and f"article {rows[0].id} has no archived response" in raw.stderr
    shown = run_cascrawl("runs", "show", "latest", "--db", db_url)
    assert "archive   none (the WARC archive was off" in shown.stdout
    database = Database(db_url).open(create=False)
    try:
        with TestClient(create_app(database)) as client:
            answer = client.get(f"/articles/{rows[0].id}/raw")
            assert answer.status_code == 404 and "has no archived response" in answer.text
    finally:
        database.close()
