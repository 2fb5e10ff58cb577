"""Response schemas of the API, for the OpenAPI document (/docs) and for serialising lists.

Article fields are the export contract's (docs/export.md), in its order, plus `id` first.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    detail: str = Field(description="what went wrong, in words")


class Attachment(BaseModel):
    url: str
    name: str | None = None


class Image(BaseModel):
    url: str
    caption: str | None = None


class Video(BaseModel):
    url: str
    type: str | None = Field(None, description="MIME type given by the page's <source type>, if any")
    poster: str | None = None


class MediaFile(BaseModel):
    kind: str = Field(description="image, attachment or video")
    url: str = Field(description="the file's absolute URL as the page links it")
    status: str = Field(description="stored, skipped (not fetched: see failure) or failed (see failure; tried again)")
    path: str | None = Field(description="where it is in the media store; GET /media/{checksum} serves it")
    checksum: str | None = Field(description="MD5 of the content")
    size: int | None = Field(description="bytes")
    content_type: str | None
    failure: str | None = Field(description="reason code and detail: http_404, too_large, not_a_file, offsite, "
                                            "type_not_allowed, video_off, …")


class Article(BaseModel):
    id: int = Field(description="cascrawl's id of the article; stable for the article's canonical URL")
    url: str = Field(description="canonical https://www.cas.cn/… URL")
    section: str
    title: str
    published_date: str = Field(description="YYYY-MM-DD, Beijing time")
    published_at: str | None = Field(description="ISO 8601 with +08:00 when the page gives a time of day")
    source: str | None
    author: str | None
    editor: str | None
    text: str = Field(description="clean body text, one paragraph per line")
    attachments: list[Attachment]
    images: list[Image]
    videos: list[Video] = Field(description="videos of the body, recorded whether or not the media archive is on")
    media: list[MediaFile] = Field(description="the media archive's files of this article; [] when it is off")
    content_hash: str = Field(description="sha256 of title + '\\n' + text")
    first_seen_at: str
    updated_at: str = Field(description="when the content last changed; the paging order with id")


class Tombstone(BaseModel):
    """A withdrawn article, as the change cursor (`since` or `cursor`) returns it: remove it downstream."""

    id: int
    url: str
    withdrawn: Literal[True] = Field(description="always true: the article's page answered 404/410 on two checks "
                                                 "in a row; its record stays at /articles/{id}")
    withdrawn_at: str = Field(description="when it was found withdrawn")
    updated_at: str = Field(description="its place in the paging order (the withdrawal moved it)")


class ArticlePage(BaseModel):
    items: list[Article | Tombstone] = Field(
        description="articles; with `since` or `cursor`, also tombstones of the articles withdrawn (`withdrawn`: true)")
    next: str | None = Field(description="cursor of the next page; null when this page reached the end")
    cursor: str | None = Field(description="position after the last item of this page (the cursor sent when the "
                                           "page is empty): keep it and ask again later for what changed since")
    has_more: bool = Field(description="more matching articles were already there after this page")
    limit: int


class Revision(BaseModel):
    revision: int = Field(description="the revision number this version had")
    title: str
    published_date: str
    content_hash: str
    text: str
    template: str | None
    updated_at: str = Field(description="when this version arrived")
    replaced_at: str = Field(description="when the next version replaced it")


class ArticleDetail(Article):
    revision: int = Field(description="1 for the first version, +1 for each content change")
    fetched_url: str = Field(description="the URL the page was fetched from (a mirror or copy, or the canonical one)")
    docid: int
    template: str | None = Field(description="which page layout matched")
    script: str | None
    provenance: dict[str, Any] = Field(description="which path produced each field")
    last_seen_at: str = Field(description="the last crawl that saw the article")
    withdrawn_at: str | None = Field(None, description="when the article's page was found gone (404/410 on two "
                                                       "checks in a row); null while it is there")
    html: str | None = Field(None, description="the body as a sanitized HTML fragment (an allow-list: no scripts, "
                                               "event handlers, styles or script URLs), absolute links")
    revisions: list[Revision] = Field(description="previous versions, newest first")


class LastRun(BaseModel):
    id: int
    status: str
    started_at: str | None
    finished_at: str | None


class Section(BaseModel):
    section: str
    articles: int
    newest_published_date: str | None
    last_updated_at: str | None
    last_run: LastRun | None = Field(description="the newest run that crawled this section")
    listing_complete_at: str | None = Field(
        None, description="when a walk of this section's listing last reached its end or the previous complete walk")
    incomplete: str | None = Field(
        None, description="set when the latest walk was cut short, e.g. 'backfill incomplete: 12 listing pages left (of 40)'")


class RunCounts(BaseModel):
    listing_pages: int
    articles_stored: int
    inserted: int
    revised: int
    refreshed: int
    unchanged: int
    rejects: int


class Run(BaseModel):
    id: int
    status: str = Field(description="running, finished, degraded, stopped, failed, interrupted (killed; set by the next run)")
    reason: str | None
    started_at: str | None
    finished_at: str | None
    base_url: str | None
    sections: list[str]
    counts: RunCounts
    problems: list[str] = Field(description="why the run is degraded; empty for a clean run")


class RunCoverage(BaseModel):
    pages: int = Field(description="article pages extracted")
    title: float = Field(description="share of them with a title, 0 to 1")
    date: float
    body: float
    source: float
    generic_fallback: float = Field(description="share that matched no CAS layout (the generic extractor's)")


class DriftGroup(BaseModel):
    body: str = Field(description="where the generic extractor found the body: the container's CSS path "
                                  "(div#main>div.article-content), or the extractor's name when it records none; "
                                  "(other) for the pages beyond the groups kept")
    heading: str = Field(description="where the headline came from: a heading's CSS (h1.article-title), <title>, "
                                     "meta:og:title; none when the page gave none")
    pages: int = Field(description="pages of the run in this group, stored or rejected")
    examples: list[str] = Field(description="a few of their URLs (CASCRAWL_DRIFT_EXAMPLES)")


class RunDetail(Run):
    model_config = {"extra": "allow"}  # columns crawl_runs gains later are passed through

    rejects_by_reason: dict[str, int]
    coverage: RunCoverage | None = Field(description="field coverage over the article pages the run extracted "
                                                    "(rejected ones included); null when it extracted none")
    log_file: str | None = Field(description="the run's full Scrapy log (a path on the crawling machine); "
                                             "null for runs recorded without one")
    drift: list[DriftGroup] = Field(
        default_factory=list, description="pages that matched no CAS layout, grouped by where their body and "
                                          "heading were found (a new template?), most pages first")
    settings: dict[str, Any]
    stats: dict[str, Any] = Field(description="the crawler's stats at close")


class Problem(BaseModel):
    code: str = Field(description="site_unreachable, section_missing, section_failed, section_empty, "
                                  "listing_pages_unread, layout_alarm, storage_failed, worker_lost, …; `problem` for "
                                  "runs recorded before problems had codes")
    names: list[str] = Field(description="the sections, reasons or workers it concerns")
    text: str


class Health(BaseModel):
    status: str = Field(description="ok when healthy, else error")
    database: str = Field(description="reachable or unreachable")
    schema_revision: str | None = None
    last_run: Run | None = Field(None, description="the newest run, running or not")
    verdict: str = Field(description="healthy or unhealthy")
    reason: str = Field(description="ok, failed, degraded, stopped, interrupted, stale, no_run or "
                                    "database_unreachable")
    detail: str = Field(description="the verdict in one line")
    run_id: int | None = Field(None, description="the run judged: the latest completed (not running) one")
    problems: list[Problem] = Field(default_factory=list, description="the judged run's problems")
    age_seconds: float | None = Field(None, description="seconds since the judged run ended")
    max_age_seconds: float | None = Field(None, description="CASCRAWL_HEALTH_MAX_AGE in seconds")
    stale_since: str | None = Field(None, description="when the judged run became too old (ISO 8601); set only "
                                                      "when reason is stale")
