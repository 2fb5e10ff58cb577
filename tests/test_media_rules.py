"""The media archive's rules, without the engine: which files an article asks for, which are skipped and
why, how an answer or a failure becomes the file's record, and when its article is fetched again. The
crawls with real files are in tests/test_media.py."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

import cascrawl.settings as project_settings
from cascrawl.db.frontier import media_retry_reason
from cascrawl.hosts import OffsiteRequest
from cascrawl.items import ArticleItem
from cascrawl.walk import walks_of
from cascrawl.pipelines.media import MediaArchivePipeline, MediaFetchFailed, extension, media_of

BASE = "http://127.0.0.1:8123"
PAGE = "https://www.cas.cn/kj/202507/t20250718_5077345.shtml"


def pipeline(tmp_path, **settings) -> MediaArchivePipeline:
    values = {"CASCRAWL_MEDIA_STORE": str(tmp_path / "store"), "CASCRAWL_BASE_URL": BASE,
              "CASCRAWL_ALLOWED_HOSTS": project_settings.CASCRAWL_ALLOWED_HOSTS, **settings}
    crawler = get_crawler(settings_dict=values)
    crawler.spider = type("Spider", (), {"base_url": BASE})()
    built = MediaArchivePipeline.from_crawler(crawler)
    built.open_spider()
    return built


def item(**fields) -> ArticleItem:
    from datetime import datetime, timezone

    return ArticleItem(url=PAGE, fetched_url=PAGE, docid=5077345, section="kj", fetched_at=datetime.now(timezone.utc),
                       **fields)


def test_the_extension_is_the_paths_lower_case_suffix():
    assert extension("https://www.cas.cn/kj/P02.PDF?x=1.exe#a.zip") == "pdf"
    assert extension("https://www.cas.cn/kj/download") == ""
    assert extension("https://www.cas.cn/kj/a.tar.gz") == "gz"


def test_an_articles_files_in_page_order_once_each_by_kind():
    adapter = ItemAdapter(item(
        images=[{"url": "https://www.cas.cn/a.jpg"}, {"url": " "}, {"url": "https://www.cas.cn/a.jpg"}],
        attachments=[{"url": "https://www.cas.cn/r.pdf", "name": "r"}, {"url": "https://www.cas.cn/a.jpg"}],
        videos=[{"url": " https://www.cas.cn/v.mp4 ", "type": None, "poster": None}, {}]))
    assert media_of(adapter) == [
        {"kind": "image", "url": "https://www.cas.cn/a.jpg"},
        {"kind": "attachment", "url": "https://www.cas.cn/r.pdf"},
        {"kind": "video", "url": "https://www.cas.cn/v.mp4"},
    ]


def test_without_a_store_the_archive_is_off():
    from scrapy.exceptions import NotConfigured

    with pytest.raises(NotConfigured):
        MediaArchivePipeline.from_crawler(get_crawler(settings_dict={"CASCRAWL_MEDIA_STORE": ""}))


def test_requests_go_to_the_crawled_copy_with_the_file_cap_and_the_skipped_say_why(tmp_path):
    archive = pipeline(tmp_path, CASCRAWL_MEDIA_MAX_BYTES=1234)
    article = item(
        images=[{"url": "https://www.cas.cn/kj/202507/W1.jpg"}, {"url": "http://evil.example/x.jpg"},
                {"url": "ftp://www.cas.cn/f.jpg"}],
        attachments=[{"url": "https://www.cas.cn/kj/202507/setup.EXE"}, {"url": "https://www.cas.cn/kj/doc"}],
        videos=[{"url": "https://www.cas.cn/kj/v.mp4"}])
    requests = archive.get_media_requests(article, archive.spiderinfo)
    assert [r.url for r in requests] == [f"{BASE}/kj/202507/W1.jpg", f"{BASE}/kj/doc"]
    assert [r.meta["cascrawl_media_url"] for r in requests] == ["https://www.cas.cn/kj/202507/W1.jpg",
                                                               "https://www.cas.cn/kj/doc"]
    assert all(r.meta["download_maxsize"] == 1234 and r.meta["download_warnsize"] == 0 for r in requests)
    assert [(entry["url"].rsplit("/", 1)[1], entry.get("failure")) for entry in article.media] == [
        ("W1.jpg", None), ("x.jpg", "offsite"), ("f.jpg", "not_http"), ("setup.EXE", "type_not_allowed"),
        ("doc", None), ("v.mp4", "video_off")]
    assert [entry.get("status") for entry in article.media] == [None, "skipped", "skipped", "skipped", None, "skipped"]


def test_the_base_url_is_the_crawls_else_the_settings_and_extensions_are_normalised(tmp_path):
    archive = pipeline(tmp_path, CASCRAWL_MEDIA_EXTENSIONS=[".PDF", "Jpg"])  # the crawl has no base URL yet
    article = item(attachments=[{"url": "https://www.cas.cn/kj/r.pdf"}, {"url": "https://www.cas.cn/kj/t.doc"}],
                   images=[{"url": "https://www.cas.cn/kj/a.JPG"}])
    requests = archive.get_media_requests(article, archive.spiderinfo)
    assert [r.url for r in requests] == [f"{BASE}/kj/a.JPG", f"{BASE}/kj/r.pdf"]
    assert [entry.get("failure") for entry in article.media] == [None, None, "type_not_allowed"]
    walks_of(archive.crawler).base_url = "http://127.0.0.1:9"  # the one the spider resolved wins
    assert archive.base_url() == "http://127.0.0.1:9"


def test_videos_are_requested_when_switched_on_and_a_rejected_article_asks_for_nothing(tmp_path):
    archive = pipeline(tmp_path, CASCRAWL_MEDIA_VIDEO=True)
    article = item(videos=[{"url": "https://www.cas.cn/kj/v.mp4"}])
    assert [r.url for r in archive.get_media_requests(article, archive.spiderinfo)] == [f"{BASE}/kj/v.mp4"]
    rejected = item(images=[{"url": "https://www.cas.cn/kj/W1.jpg"}], reject_reason="missing_body")
    assert archive.get_media_requests(rejected, archive.spiderinfo) == [] and rejected.media == []


def test_a_file_is_stored_under_the_name_of_the_url_the_page_links(tmp_path):
    archive = pipeline(tmp_path)
    linked = "https://www.cas.cn/kj/202507/report.pdf"
    copy = Request(f"{BASE}/kj/202507/report.pdf", meta={"cascrawl_media_url": linked})
    name = archive.file_path(copy)
    assert name == f"full/{hashlib.sha1(linked.encode()).hexdigest()}.pdf"
    assert archive.file_path(Request(linked)) == name  # the same file, whichever copy it came from


def _answer(archive, response, request):
    return asyncio.run(archive.media_downloaded(response, request, archive.spiderinfo))


def test_an_answer_becomes_a_stored_file_or_a_reason(tmp_path):
    archive = pipeline(tmp_path)
    request = Request(f"{BASE}/kj/r.pdf", meta={"cascrawl_media_url": "https://www.cas.cn/kj/r.pdf"})
    body = b"%PDF-1.4 content"
    stored = _answer(archive, Response(request.url, body=body, headers={"Content-Type": "application/PDF; x=1"},
                                       request=request), request)
    assert (stored["checksum"], stored["size"], stored["content_type"]) == (hashlib.md5(body).hexdigest(),
                                                                           len(body), "application/pdf")
    assert (tmp_path / "store" / stored["path"]).read_bytes() == body
    untyped = _answer(archive, Response(request.url, body=body, request=request), request)
    assert untyped["content_type"] is None
    for response, reason, detail in [
        (Response(request.url, status=404, body=b"gone", request=request), "http_404", "the file answered HTTP 404"),
        (HtmlResponse(request.url, body=b"<html>not found</html>", headers={"Content-Type": "text/html"},
                      request=request), "not_a_file", "a web page (text/html) instead of a file"),
        (Response(request.url, body=b"", headers={"Content-Type": "application/pdf"}, request=request), "empty",
         "the file is empty"),
    ]:
        with pytest.raises(MediaFetchFailed) as failed:
            _answer(archive, response, request)
        assert (failed.value.reason, failed.value.detail) == (reason, detail)


def test_a_failed_download_gets_the_reason_of_a_page_that_failed_the_same_way(tmp_path):
    archive = pipeline(tmp_path, CASCRAWL_MEDIA_MAX_BYTES=100)
    request = Request(f"{BASE}/kj/big.zip")
    cases = [
        (OffsiteRequest("offsite_redirect", "http://evil.example/x", request.url), "offsite_redirect"),
        (ValueError("Cancelling download of x: received response larger than download max size (100)"),
         "too_large"),
        (ConnectionRefusedError("refused"), "fetch_failed"),
    ]
    for error, reason in cases:
        with pytest.raises(MediaFetchFailed) as failed:
            archive.media_failed(Failure(error), request, archive.spiderinfo)
        assert failed.value.reason == reason
    with pytest.raises(MediaFetchFailed) as failed:
        archive.media_failed(Failure(ValueError("larger than download max size")), request, archive.spiderinfo)
    assert "CASCRAWL_MEDIA_MAX_BYTES (100 bytes)" in failed.value.detail
    # Cut while it arrived (ResponseSizeMiddleware marks it; Scrapy's CancelledError says nothing).
    from twisted.internet.defer import CancelledError

    marked = Request(f"{BASE}/kj/big.zip", meta={"cascrawl_too_large": 101})
    with pytest.raises(MediaFetchFailed) as failed:
        archive.media_failed(Failure(CancelledError()), marked, archive.spiderinfo)
    assert failed.value.reason == "too_large" and failed.value.detail.endswith(": CancelledError")
    with pytest.raises(MediaFetchFailed) as failed:
        archive.media_failed(Failure(ConnectionError("x" * 1000)), request, archive.spiderinfo)
    assert failed.value.detail == "x" * 400
    already = MediaFetchFailed("http_503", "the file answered HTTP 503")
    with pytest.raises(MediaFetchFailed) as failed:
        archive.media_failed(Failure(already), request, archive.spiderinfo)
    assert failed.value is already


def test_each_file_gets_its_record_and_the_stats_count_them(tmp_path, caplog):
    archive = pipeline(tmp_path)
    article = item(images=[{"url": "https://www.cas.cn/kj/a.jpg"}, {"url": "https://www.cas.cn/kj/b.jpg"}],
                   attachments=[{"url": "https://www.cas.cn/kj/c.exe"}, {"url": "https://www.cas.cn/kj/d.pdf"},
                                {"url": "https://www.cas.cn/kj/e.pdf"}])
    archive.get_media_requests(article, archive.spiderinfo)
    results = [
        (True, {"path": "full/a.jpg", "checksum": "aa", "status": "downloaded", "size": 3, "content_type": "image/jpeg"}),
        (True, {"path": "full/b.jpg", "checksum": "bb", "status": "uptodate"}),
        (False, Failure(MediaFetchFailed("http_404", "the file answered HTTP 404"))),
        (False, Failure(RuntimeError("boom" * 200))),
    ]
    with caplog.at_level("WARNING", logger="cascrawl.pipelines.media"):
        archive.item_completed(results, article, archive.spiderinfo)
    assert [record.getMessage() for record in caplog.records][0] == (
        f"attachment https://www.cas.cn/kj/d.pdf of {PAGE} not stored (the file answered HTTP 404); the article "
        "is stored, the file tried again next run")
    records = {entry["url"].rsplit("/", 1)[1]: entry for entry in article.media}
    assert records["a.jpg"] == {"kind": "image", "url": "https://www.cas.cn/kj/a.jpg", "status": "stored",
                                     "path": "full/a.jpg", "checksum": "aa", "size": 3, "content_type": "image/jpeg",
                                     "fetched": True}
    assert (records["b.jpg"]["status"], records["b.jpg"]["fetched"], records["b.jpg"]["size"]) == ("stored", False, None)
    assert (records["c.exe"]["status"], records["c.exe"]["failure"]) == ("skipped", "type_not_allowed")
    assert (records["d.pdf"]["status"], records["d.pdf"]["failure"], records["d.pdf"]["fetched"]) == (
        "failed", "http_404: the file answered HTTP 404", True)
    assert records["e.pdf"]["status"] == "failed" and records["e.pdf"]["failure"] == ("fetch_failed: " + "boom" * 200)[:500]
    stats = archive.crawler.stats.get_stats()
    assert {key: value for key, value in stats.items() if key.startswith("cascrawl/media/")} == {
        "cascrawl/media/stored": 1, "cascrawl/media/already_stored": 1, "cascrawl/media/skipped/type_not_allowed": 1,
        "cascrawl/media/failed/http_404": 1, "cascrawl/media/failed/fetch_failed": 1}


def test_an_article_is_fetched_again_for_its_failed_files_sooner_for_a_passing_failure():
    stored = {"status": "stored"}
    skipped = {"status": "skipped", "failure": "type_not_allowed"}
    gone = {"status": "failed", "failure": "http_404: the file answered HTTP 404"}
    busy = {"status": "failed", "failure": "http_503: the file answered HTTP 503"}
    assert media_retry_reason([stored, skipped]) is None
    assert media_retry_reason([stored, gone]) == "media:http_404"
    assert media_retry_reason([gone, busy]) == "media:http_503"  # a transient one wins: due at the next run
