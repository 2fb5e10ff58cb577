"""The media archive (opt-in), with real crawls of a loopback copy whose 科技 article links two images, a
PDF and a DOC attachment, a missing file, an oversized one, an HTML page posing as a PDF, a file type
outside the allow-list, a file that fails once (503) and a video. Three runs into one store: the first
fetches each file once, the second re-fetches only the article whose file failed for a passing reason,
the third (`--full`, every article again) fetches no stored file again."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cascrawl.api.app import create_app
from cascrawl.db import Database, normalize_url

from .api_support import serve  # noqa: F401
from .conftest import FAST, SITE, run_cascrawl
from .db_backends import db_url, postgres_server  # noqa: F401
from .test_browser import browser_page, chromium  # noqa: F401
from .loopback import CountingSite

SECTION = "kj"
ARTICLE = "kj/202507/t20250718_5077345.shtml"
CANONICAL = f"https://www.cas.cn/{ARTICLE}"
FOLDER = "/kj/202507/"
IMAGES = ("W020250718403921557610.jpg", "W020250718403921879634.jpg")
MAX_BYTES = 100_000
FILES = {  # name in the attachment block -> content served
    "P020250718_report.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 40,
    "P020250718_form.doc": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"form" * 500,
    "P020250718_flaky.xlsx": b"PK\x03\x04" + b"sheet" * 300,
    "P020250718_huge.zip": b"PK\x03\x04" + bytes(3 * MAX_BYTES),
}
MISSING, POSING, FOREIGN_TYPE, VIDEO = "P020250718_missing.pdf", "P020250718_error.pdf", "setup.exe", "V020250718_clip.mp4"


def _error_page(handler) -> None:  # a CMS that answers a dead file link with a 200 HTML page
    body = "<html><body>文件不存在</body></html>".encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def media_site(tmp_path):
    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    page = root / ARTICLE
    links = [*FILES, MISSING, POSING, FOREIGN_TYPE]
    block = "".join(f'<li><a href="./{name}">{name}</a></li>' for name in links)
    html = page.read_text("utf-8").replace("附件下载：<ul></ul>", f"附件下载：<ul>{block}</ul>")
    html = html.replace("<p><br></p>", f'<p><video src="./{VIDEO}" controls></video></p>', 1)
    page.write_text(html, "utf-8")
    for name, content in FILES.items():
        (page.parent / name).write_bytes(content)
    (page.parent / FOREIGN_TYPE).write_bytes(b"MZ" + bytes(100))
    (page.parent / VIDEO).write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(1000))
    return root


def _crawl(site: CountingSite, db_url: str, store: Path, *extra: str):
    result = run_cascrawl("crawl", "--base-url", site.url, "--db", db_url, "--section", SECTION, *FAST,
                          "--media", str(store), "-s", f"CASCRAWL_MEDIA_MAX_BYTES={MAX_BYTES}", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _query(db_url: str, sql: str, **params) -> list[tuple]:
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def _media(db_url: str) -> dict[str, tuple]:
    rows = _query(db_url, "SELECT url, kind, status, path, checksum, size, content_type, failure, attempts "
                          "FROM article_media WHERE article_url = :url", url=CANONICAL)
    return {url.rsplit("/", 1)[1]: tuple(rest) for url, *rest in rows}  # file name -> (kind, status, …, attempts)


def _videos(db_url: str) -> list[str]:
    (videos,) = _query(db_url, "SELECT videos FROM articles WHERE url = :url", url=CANONICAL)[0]
    return [video["url"] for video in (json.loads(videos) if isinstance(videos, str) else videos)]


def test_files_are_stored_once_failures_recorded_and_retried_and_nothing_fetched_twice(media_site, db_url, tmp_path):  # noqa: F811
    store = tmp_path / "store"
    with CountingSite(media_site, routes={FOLDER + POSING: _error_page}) as site:
        site.failing.add(FOLDER + "P020250718_flaky.xlsx")
        result = _crawl(site, db_url, store)
        first = dict(site.requests)
        # A failed file is an expected event: a warning line each, no traceback.
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        assert sum("not stored" in line for line in result.stderr.splitlines()) == 4

        media = _media(db_url)
        kinds = {name: row[0] for name, row in media.items()}
        assert kinds == {**{name: "image" for name in IMAGES}, **{name: "attachment" for name in [
            *FILES, MISSING, POSING, FOREIGN_TYPE]}, VIDEO: "video"}
        originals = {name: (media_site / FOLDER.strip("/") / name).read_bytes() for name in (*IMAGES, *FILES)}
        for name in (*IMAGES, "P020250718_report.pdf", "P020250718_form.doc"):
            kind, status, path, checksum, size, content_type, failure, attempts = media[name]
            assert status == "stored" and failure is None, (name, media[name])
            assert (store / path).read_bytes() == originals[name]  # the file itself, in the store
            assert checksum == hashlib.md5(originals[name]).hexdigest() and size == len(originals[name])
            assert attempts == 1 and first[FOLDER + name] == 1
        assert media["P020250718_report.pdf"][5] == "application/pdf"
        assert media["W020250718403921557610.jpg"][5] == "image/jpeg"
        failures = {name: (row[1], (row[6] or "").split(":")[0]) for name, row in media.items()}
        assert failures[MISSING] == ("failed", "http_404")
        assert failures["P020250718_huge.zip"] == ("failed", "too_large")
        assert failures[POSING] == ("failed", "not_a_file")
        assert failures["P020250718_flaky.xlsx"] == ("failed", "http_503")
        assert failures[FOREIGN_TYPE] == ("skipped", "type_not_allowed")
        assert failures[VIDEO] == ("skipped", "video_off")
        assert FOLDER + FOREIGN_TYPE not in first and FOLDER + VIDEO not in first  # skipped: never requested
        # The article is stored whatever its files did, its video recorded, and it waits to be re-fetched.
        assert _videos(db_url) == [f"https://www.cas.cn{FOLDER}{VIDEO}"]
        assert _query(db_url, "SELECT reason FROM refetch_schedule WHERE url = :url", url=CANONICAL) == [
            ("media:http_503",)]
        stored_articles = _query(db_url, "SELECT count(*) FROM articles")[0][0]
        updated = _query(db_url, "SELECT updated_at FROM articles WHERE url = :url", url=CANONICAL)[0][0]
        _read_through_the_api(db_url, store, media, originals)

        # Second run: the file that failed for a passing reason is served now; only that article is re-fetched.
        site.failing.clear()
        site.reset()
        _crawl(site, db_url, store)
        second = dict(site.requests)
        assert second.get("/" + ARTICLE) == 1
        assert all(second.get(FOLDER + name) is None for name in (*IMAGES, "P020250718_report.pdf",
                                                                  "P020250718_form.doc"))
        assert second[FOLDER + "P020250718_flaky.xlsx"] == 1
        media = _media(db_url)
        assert media["P020250718_flaky.xlsx"][1] == "stored"
        assert (store / media["P020250718_flaky.xlsx"][2]).read_bytes() == originals["P020250718_flaky.xlsx"]
        assert media[MISSING][1] == "failed" and media[MISSING][7] == 2  # tried again with the article
        # The export contract carries `media`: a file newly stored moves the article's updated_at (change cursors).
        moved = _query(db_url, "SELECT updated_at FROM articles WHERE url = :url", url=CANONICAL)[0][0]
        assert moved > updated
        # Only permanent failures are left: the article waits a back-off (a day) instead of the next run.
        (reason, next_try, last_tried), = _query(
            db_url, "SELECT reason, next_try_at, last_tried_at FROM refetch_schedule WHERE url = :url", url=CANONICAL)
        assert reason.startswith("media:") and reason != "media:http_503" and next_try > last_tried

        # Third run, --full: every article fetched again, no stored file fetched again (the failed ones are).
        site.reset()
        _crawl(site, db_url, store, "--full")
        third = dict(site.requests)
        assert third.get("/" + ARTICLE) == 1
        stored = {name for name, row in _media(db_url).items() if row[1] == "stored"}
        assert stored == {*IMAGES, "P020250718_report.pdf", "P020250718_form.doc", "P020250718_flaky.xlsx"}
        assert not [path for path in third if Path(path).name in stored]
        assert third[FOLDER + MISSING] == 1
        # The same failures again are no change: the cursor does not move.
        assert _query(db_url, "SELECT updated_at FROM articles WHERE url = :url", url=CANONICAL)[0][0] == moved
    assert _query(db_url, "SELECT count(*) FROM articles")[0][0] == stored_articles


def _read_through_the_api(db_url: str, store: Path, media: dict, originals: dict) -> None:
    """The API lists an article's files and serves the stored ones with their type; nothing else."""
    database = Database(db_url).open(create=False)
    try:
        with TestClient(create_app(database, media_store=str(store))) as client:
            (article_id,) = _query(db_url, "SELECT id FROM articles WHERE url = :url", url=CANONICAL)[0]
            detail = client.get(f"/articles/{article_id}").json()
            listed = {entry["url"].rsplit("/", 1)[1]: entry for entry in detail["media"]}
            assert {name: entry["status"] for name, entry in listed.items()} == {
                name: row[1] for name, row in media.items()}
            assert detail["videos"] == [{"url": f"https://www.cas.cn{FOLDER}{VIDEO}", "type": None, "poster": None}]
            pdf = listed["P020250718_report.pdf"]
            served = client.get(f"/media/{pdf['checksum']}")
            assert served.status_code == 200 and served.content == originals["P020250718_report.pdf"]
            assert served.headers["content-type"] == "application/pdf"
            assert client.get("/media/" + "0" * 32).status_code == 404
            assert client.get("/media/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)
            assert client.get("/media/not-a-checksum").status_code == 422
            html = client.get(f"/ui/articles/{article_id}").text
            for name in IMAGES:
                assert f'<img src="/media/{listed[name]["checksum"]}"' in html
            assert "http_404" in html and "not_a_file" in html
        with TestClient(create_app(database)) as client:  # no store given: the file is known, not served
            answer = client.get(f"/media/{pdf['checksum']}")
            assert answer.status_code == 404 and "--media" in answer.json()["detail"]
    finally:
        database.close()


def test_without_a_store_no_file_is_fetched_and_videos_are_still_recorded(media_site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'plain.db'}"
    with CountingSite(media_site) as site:
        result = run_cascrawl("crawl", "--base-url", site.url, "--db", db_url,
                              "--section", SECTION, *FAST)
        assert result.returncode == 0, result.stderr[-3000:]
        requested = set(site.requests)
    assert not [path for path in requested if not path.endswith((".shtml", "/", ".txt"))]  # robots.txt, pages
    assert _query(db_url, "SELECT count(*) FROM article_media") == [(0,)]
    assert _videos(db_url) == [f"https://www.cas.cn{FOLDER}{VIDEO}"]


def test_videos_are_fetched_when_switched_on(media_site, tmp_path):
    db_url, store = f"sqlite:///{tmp_path / 'video.db'}", tmp_path / "store"
    with CountingSite(media_site) as site:
        _crawl(site, db_url, store, "-s", "CASCRAWL_MEDIA_VIDEO=True")
    row = _media(db_url)[VIDEO]
    assert row[1] == "stored" and row[5] == "video/mp4"
    assert (store / row[2]).read_bytes() == (media_site / FOLDER.strip("/") / VIDEO).read_bytes()


def test_the_operator_page_shows_the_stored_images_in_a_browser(media_site, tmp_path, serve, browser_page):  # noqa: F811
    db_url, store = f"sqlite:///{tmp_path / 'ui.db'}", tmp_path / "store"
    with CountingSite(media_site) as site:
        _crawl(site, db_url, store)
    (article_id,) = _query(db_url, "SELECT id FROM articles WHERE url = :url", url=CANONICAL)[0]
    server = serve(db_url, "--media", str(store))
    browser_page.goto(f"{server.base}/ui/articles/{article_id}")
    loaded = browser_page.evaluate("""() => [...document.querySelectorAll('#media-images img')]
        .map(img => [img.getAttribute('src'), img.complete && img.naturalWidth > 0])""")
    checksums = [checksum for (checksum,) in _query(
        db_url, "SELECT checksum FROM article_media WHERE article_url = :url AND kind = 'image' "
                "AND status = 'stored' ORDER BY id", url=CANONICAL)]
    assert loaded == [[f"/media/{checksum}", True] for checksum in checksums] and len(loaded) == len(IMAGES)
    browser_page.screenshot(path=str(tmp_path / "article-media.png"), full_page=True)
    assert (tmp_path / "article-media.png").stat().st_size > 0
