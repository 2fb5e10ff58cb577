"""The article item: what the spider hands to the pipelines. Pipelines use it through ItemAdapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass
class ArticleItem:
    # Set by the spider from the URL and the extracted page.
    url: str  # canonical: https://www.cas.cn/<section>/<YYYYMM>/t<YYYYMMDD>_<docid>.shtml
    fetched_url: str  # where it was actually fetched (live site, mirror, copy)
    docid: int
    section: str
    fetched_at: datetime
    http_status: int = 200
    etag: str | None = None  # validators for conditional re-fetches (--refresh-days)
    last_modified: str | None = None
    template: str | None = None
    title: str | None = None
    date_text: str | None = None  # the page's date text (meta or info line), unparsed
    date_origin: str | None = None  # where date_text came from: meta or page
    listing_date: date | None = None
    url_date: date | None = None
    source: str | None = None
    author: str | None = None
    editor: str | None = None
    html: str | None = None  # body HTML fragment (sanitized)
    attachments: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    videos: list[dict] = field(default_factory=list)  # {url, type, poster}: recorded whether or not media is archived
    provenance: dict[str, str] = field(default_factory=dict)
    # Set by the pipelines.
    text: str | None = None
    script: str | None = None  # script the page was published in: simplified / traditional
    published_date: date | None = None
    published_at: datetime | None = None  # aware, Beijing time; None when the page shows no time
    content_hash: str | None = None
    media: list[dict] = field(default_factory=list)  # set by the media archive (when on): one record per file
    # The WARC record of the response (cascrawl/archive/): its id set from the response, where it is
    # (file, offset) by the persist pipeline once the archive's writer has written it.
    warc_record_id: str | None = None
    warc_file: str | None = None
    warc_offset: int | None = None
    reject_reason: str | None = None  # set by validation: the item becomes a row in `rejects`
    reject_detail: str | None = None
