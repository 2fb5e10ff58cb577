"""Step 7 (opt-in), the media archive: the images, attachments and (with CASCRAWL_MEDIA_VIDEO) videos
of each valid article, fetched and kept in a file store by Scrapy's FilesPipeline.

Off unless CASCRAWL_MEDIA_STORE names a store (a folder, or s3://…, gs://…, ftp://… as FILES_STORE
does), so a plain crawl fetches nothing more than pages. Runs after validation (rejected items fetch
nothing) and before persistence, which writes what it did to `article_media`.

What FilesPipeline gives: files stored under a name derived from their URL (`full/<sha1>.<ext>`),
the MD5 checksum, and no second fetch of a file already in the store and younger than FILES_EXPIRES
days — across articles and across runs. What this adds: the same host rule as pages (no request to
another host), a size cap per file (CASCRAWL_MEDIA_MAX_BYTES), an allow-list of file types by
extension, no HTML error page stored as a file, and a record per file — stored, skipped (not
fetched, and why) or failed (why). A failed file never costs its article: the article is stored,
and persistence puts it on the re-fetch schedule so that the next run tries the file again.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.pipelines import files as scrapy_files

from cascrawl.compat import QuietFileException, update_file_stores
from cascrawl.hosts import HostPolicy, fetch_failure
from cascrawl.pipelines import setting
from cascrawl.urls import site_link
from cascrawl.walk import walks_of

logger = logging.getLogger(__name__)


# What a page answers instead of a file (an error or login page behind a file link).
_PAGE_TYPES = ("text/html", "application/xhtml+xml")


# Scrapy logs a failed media download at ERROR with a traceback unless the exception is its own "filtered"
# kind (cascrawl.compat); a 404 image is an expected event here, recorded and logged in one line.
class MediaFetchFailed(QuietFileException):
    """A file that could not be stored; `reason` is a code (http_404, too_large, not_a_file, …)."""

    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}")


def extension(url: str) -> str:
    """The file extension of a URL's path, lower case, without the dot ('' if none)."""
    return PurePosixPath(urlsplit(url).path).suffix.lower().lstrip(".")


def media_of(adapter: ItemAdapter) -> list[dict]:
    """The files an article links, once each, in page order: {kind, url}."""
    found, seen = [], set()
    for kind, field in (("image", "images"), ("attachment", "attachments"), ("video", "videos")):
        for entry in adapter.get(field) or []:
            url = (entry.get("url") or "").strip()
            if url and url not in seen:
                seen.add(url)
                found.append({"kind": kind, "url": url})
    return found


class MediaArchivePipeline(scrapy_files.FilesPipeline):
    def __init__(self, store_uri: str, *, crawler):
        super().__init__(store_uri, crawler=crawler)
        settings = crawler.settings
        self.stats = crawler.stats
        self.max_bytes = int(setting(settings, "CASCRAWL_MEDIA_MAX_BYTES"))
        self.videos = bool(setting(settings, "CASCRAWL_MEDIA_VIDEO"))
        self.extensions = {str(name).lower().lstrip(".") for name in setting(settings, "CASCRAWL_MEDIA_EXTENSIONS")}
        self.site_hosts = settings.getlist("CASCRAWL_ALLOWED_HOSTS")
        self._policy = None

    @classmethod
    def from_crawler(cls, crawler):
        store = setting(crawler.settings, "CASCRAWL_MEDIA_STORE")
        if not store:
            raise NotConfigured()  # no message: Scrapy logs a warning for a NotConfigured that has one
        update_file_stores(cls, crawler.settings)  # S3/GCS/FTP credentials, as FilesPipeline.from_crawler does
        return cls(str(store), crawler=crawler)

    def base_url(self) -> str:
        return walks_of(self.crawler).base_url or self.crawler.settings.get("CASCRAWL_BASE_URL")

    def policy(self) -> HostPolicy:
        if self._policy is None:
            self._policy = HostPolicy.for_base_url(self.base_url(), self.site_hosts)
        return self._policy

    def skip_reason(self, kind: str, url: str, fetch_url: str | None) -> str | None:
        """Why a file is not fetched at all, or None."""
        if urlsplit(url).scheme not in ("http", "https"):
            return "not_http"
        if kind == "video" and not self.videos:
            return "video_off"
        suffix = extension(url)
        if suffix and suffix not in self.extensions:
            return "type_not_allowed"
        if fetch_url is None or not self.policy().allows(fetch_url):
            return "offsite"
        return None

    # --- FilesPipeline's interface ---

    def get_media_requests(self, item, info):
        adapter = ItemAdapter(item)
        planned: list[dict] = []
        requests = []
        if not adapter.get("reject_reason"):
            base_url = self.base_url()
            # an embedded player (a video of type "player") is a web page around the video, never a file
            players = {(v.get("url") or "").strip() for v in adapter.get("videos") or [] if v.get("type") == "player"}
            for entry in media_of(adapter):
                # Links to www.cas.cn are fetched from the crawled copy (a mirror crawl stays on the mirror).
                fetch_url = site_link(entry["url"], entry["url"], base_url) if base_url else entry["url"]
                reason = "player_page" if entry["url"] in players else self.skip_reason(entry["kind"], entry["url"], fetch_url)
                if reason:
                    entry.update(status="skipped", failure=reason)
                else:
                    requests.append(Request(fetch_url, meta={
                        "download_maxsize": self.max_bytes, "cascrawl_media_url": entry["url"],
                        "download_warnsize": 0,  # a large file is expected here, not a warning
                    }))
                planned.append(entry)
        adapter["media"] = planned
        return requests

    def file_path(self, request, response=None, info=None, *, item=None):
        """Named after the URL the page links, not the copy it was fetched from: the same file has the
        same name in the store whichever mirror a run crawled."""
        original = request.meta.get("cascrawl_media_url")
        if original and original != request.url:
            request = request.replace(url=original)
        return super().file_path(request, response, info, item=item)

    async def media_downloaded(self, response, request, info, *, item=None):
        if response.status != 200:
            raise MediaFetchFailed(f"http_{response.status}", f"the file answered HTTP {response.status}")
        content_type = response.headers.get("Content-Type", b"").decode("latin-1").split(";")[0].strip().lower()
        if content_type in _PAGE_TYPES:
            raise MediaFetchFailed("not_a_file", f"a web page ({content_type}) instead of a file")
        if not response.body:
            raise MediaFetchFailed("empty", "the file is empty")
        result = await super().media_downloaded(response, request, info, item=item)
        result["size"] = len(response.body)
        result["content_type"] = content_type or None
        return result

    def media_failed(self, failure, request, info):
        error = failure.value
        if isinstance(error, MediaFetchFailed):
            raise error
        message = failure.getErrorMessage() or type(error).__name__
        reason = fetch_failure(error, message, request.meta)
        if reason == "too_large":
            message = f"over CASCRAWL_MEDIA_MAX_BYTES ({self.max_bytes} bytes): {message}"
        raise MediaFetchFailed(reason, message[:400])

    def item_completed(self, results, item, info):
        adapter = ItemAdapter(item)
        outcomes = iter(results)
        for entry in adapter.get("media") or []:
            if entry.get("status"):  # skipped: no request was made
                self.stats.inc_value(f"cascrawl/media/skipped/{entry['failure']}")
                continue
            ok, value = next(outcomes)
            if ok:
                entry.update(status="stored", path=value["path"], checksum=value["checksum"],
                             size=value.get("size"), content_type=value.get("content_type"),
                             fetched=value.get("status") != "uptodate")
                self.stats.inc_value("cascrawl/media/stored" if entry["fetched"] else "cascrawl/media/already_stored")
            else:
                error = value.value
                reason = error.reason if isinstance(error, MediaFetchFailed) else "fetch_failed"
                detail = error.detail if isinstance(error, MediaFetchFailed) else str(error)
                entry.update(status="failed", failure=f"{reason}: {detail}"[:500], fetched=True)
                self.stats.inc_value(f"cascrawl/media/failed/{reason}")
                logger.warning("%s %s of %s not stored (%s); the article is stored, the file tried again next run",
                               entry["kind"], entry["url"], adapter.get("url"), detail)
        return item
