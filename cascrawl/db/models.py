"""Tables of cascrawl (SQLAlchemy 2 typed declarative). The schema is the downstream contract: docs/schema.md.

The tables are created and changed by the Alembic migrations in cascrawl/db/migrations, never by
`create_all`; a test checks that these models and the migrated schema agree.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, MetaData, String, Text, TypeDecorator, UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# JSON documents: JSONB on PostgreSQL (comparable, indexable), JSON text on SQLite.
JSON_VALUE = JSON().with_variant(postgresql.JSONB(), "postgresql")

# Stable constraint names, so that migrations (and SQLite batch mode) can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class AwareDateTime(TypeDecorator):
    """Timezone-aware datetimes on every backend: stored as UTC, read back aware (UTC).

    SQLite has no timezone type and would hand back naive values; PostgreSQL uses timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: cascrawl stores aware datetimes only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: AwareDateTime,
        dict[str, Any]: JSON_VALUE,
        list[dict[str, Any]]: JSON_VALUE,
        list[str]: JSON_VALUE,
    }


class Article(Base):
    """The current version of each article, one row per canonical URL."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)  # canonical www.cas.cn URL
    fetched_url: Mapped[str] = mapped_column(String(1000))
    docid: Mapped[int] = mapped_column(Integer, index=True)
    section: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(Text)
    published_date: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    editor: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]]
    images: Mapped[list[dict[str, Any]]]
    videos: Mapped[list[dict[str, Any]]]
    content_hash: Mapped[str] = mapped_column(String(64))
    script: Mapped[str | None] = mapped_column(String(20))
    template: Mapped[str | None] = mapped_column(String(50))
    provenance: Mapped[dict[str, Any]]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]  # when the content (content_hash) last changed, or first arrived
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # HTTP validators of the last fetch, sent back as If-None-Match / If-Modified-Since by --refresh-days.
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    # The WARC record of the response this version came from (cascrawl/archive/): the file relative to the
    # archive folder, the record's offset in it, its WARC-Record-ID. Null when the archive was off.
    warc_file: Mapped[str | None] = mapped_column(String(300))
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_record_id: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_articles_section_published", "section", "published_date"),
        Index("ix_articles_updated_id", "updated_at", "id"),  # downstream cursors
    )

    # What the media archive holds of the article's files (empty when it is off). Loaded with every
    # query of articles (one IN query per result), so a record can be built after its session closed.
    media: Mapped[list[ArticleMedia]] = relationship(
        primaryjoin="Article.url == foreign(ArticleMedia.article_url)", order_by="ArticleMedia.id",
        viewonly=True, lazy="selectin")


class ArticleRevision(Base):
    """A previous version of an article, copied here when its content changed (news-please's archive)."""

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)  # the revision number this version had in `articles`
    url: Mapped[str] = mapped_column(String(500))
    fetched_url: Mapped[str] = mapped_column(String(1000))
    docid: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(Text)
    published_date: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    editor: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]]
    images: Mapped[list[dict[str, Any]]]
    videos: Mapped[list[dict[str, Any]]]
    content_hash: Mapped[str] = mapped_column(String(64))
    script: Mapped[str | None] = mapped_column(String(20))
    template: Mapped[str | None] = mapped_column(String(50))
    provenance: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]  # when this version arrived
    last_seen_at: Mapped[datetime]  # the last crawl that saw this version
    replaced_at: Mapped[datetime]  # when the next revision replaced it
    warc_file: Mapped[str | None] = mapped_column(String(300))  # this version's WARC record, as in `articles`
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_record_id: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("article_id", "revision", name="uq_article_revisions_article_revision"),)


class CrawlRun(Base):
    """One crawl: opened when the spider opens, closed with its status and stats when it closes."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))  # running, finished, degraded, stopped, failed, interrupted
    reason: Mapped[str | None] = mapped_column(String(100))  # Scrapy's finish reason, or why it failed
    base_url: Mapped[str | None] = mapped_column(String(500))
    sections: Mapped[list[str]]
    settings: Mapped[dict[str, Any]]  # the settings that shape what is fetched and stored
    stats: Mapped[dict[str, Any] | None]  # the crawler's stats at close, JSON-safe
    # Field coverage over the article pages extracted: {"pages": n, "title": share, …} (cascrawl.health.coverage_record)
    coverage: Mapped[dict[str, Any] | None]
    log_file: Mapped[str | None] = mapped_column(String(1000))  # the run's full Scrapy log
    # A running crawl's last sign of life and its counts so far ({stats key: value, "interval": seconds}):
    # cascrawl/run/heartbeat.py writes them, cascrawl/db/reads.py reads a stale one as `interrupted`.
    heartbeat_at: Mapped[datetime | None]
    live: Mapped[dict[str, Any] | None]

    __table_args__ = (Index("ix_crawl_runs_started_at", "started_at"),)


class RunWorker(Base):
    """One worker of a distributed crawl run (several processes, one `crawl_runs` row): who it was and
    what it did. A lone run has none."""

    __tablename__ = "run_workers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"), index=True)
    worker: Mapped[str] = mapped_column(String(200))  # CASCRAWL_WORKER_NAME, default <host>:<pid>
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))  # running, finished, degraded, stopped, failed, interrupted
    reason: Mapped[str | None] = mapped_column(String(100))
    stats: Mapped[dict[str, Any] | None]  # this worker's crawler stats at close


class Reject(Base):
    """A page that was fetched but not stored as an article, and why."""

    __tablename__ = "rejects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(1000), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"), index=True)
    reason: Mapped[str] = mapped_column(String(100))  # code: missing_title, http_404, db_constraint, …
    detail: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[datetime]


class SectionWalk(Base):
    """How far each section's listing is known to be complete (the incremental crawl's stopping point).

    Listings are newest first. A walk that reached the end of the listing, or the boundary of an
    earlier complete walk, with every listing page fetched and every item written, proves that
    everything from its first entry down is held: that entry becomes the new boundary. A walk cut
    short (killed, stopped, --max-pages, a listing page that could not be read, a database failure)
    leaves the boundary where it was, so the next run walks on until it meets it (rules: cascrawl/walk.py)."""

    __tablename__ = "section_walks"

    section: Mapped[str] = mapped_column(String(100), primary_key=True)
    boundary_url: Mapped[str | None] = mapped_column(String(500))  # first entry of the last complete walk
    boundary_date: Mapped[date | None] = mapped_column(Date)  # its listing date: the fallback if it disappears
    completed_at: Mapped[datetime | None]  # when the last complete walk ended
    completed_run_id: Mapped[int | None] = mapped_column(Integer)
    walk_run_id: Mapped[int | None] = mapped_column(Integer)  # the latest walk, complete or not
    walk_started_at: Mapped[datetime | None]
    walk_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    walk_pages: Mapped[int] = mapped_column(Integer, default=0)  # listing pages the latest walk fetched
    pages_total: Mapped[int | None] = mapped_column(Integer)  # pages the listing's pager announced
    pages_unread: Mapped[list[str] | None]  # listing pages the latest walk could not read: "URL (reason)"
    deep_walked_at: Mapped[datetime | None]  # the end of the last complete walk that read every listing page


class Refetch(Base):
    """A page that was fetched but not stored, and when to try it again.

    Transient failures (fetch_failed, http_5xx) are due at the next run; permanent ones (404, no
    body, not an article, …) count as known and are tried again after a growing back-off (1, 2,
    4, … days, capped by CASCRAWL_REJECT_RETRY_MAX_DAYS). The row goes when the page is stored."""

    __tablename__ = "refetch_schedule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(1000), unique=True)  # canonical URL, as in articles.url
    fetched_url: Mapped[str] = mapped_column(String(1000))
    section: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(100))  # the latest reject reason
    permanent: Mapped[bool] = mapped_column(Boolean)
    attempts: Mapped[int] = mapped_column(Integer)  # rejections in a row
    first_rejected_at: Mapped[datetime]
    last_tried_at: Mapped[datetime]
    next_try_at: Mapped[datetime]

    __table_args__ = (Index("ix_refetch_schedule_next_try_at", "next_try_at"),)


class ArticleMedia(Base):
    """A file an article links (image, attachment, video) and what the media archive made of it.

    Written only when the archive is on (CASCRAWL_MEDIA_STORE). One row per article and file URL; a
    file several articles share is stored once (the store's path is derived from its URL) and has a
    row for each of them. `failed` rows are tried again: their article is on the re-fetch schedule."""

    __tablename__ = "article_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_url: Mapped[str] = mapped_column(String(500), index=True)  # articles.url
    kind: Mapped[str] = mapped_column(String(20))  # image, attachment, video
    url: Mapped[str] = mapped_column(String(1000))  # the file's absolute URL, as the page links it
    status: Mapped[str] = mapped_column(String(20))  # stored, failed, skipped
    path: Mapped[str | None] = mapped_column(String(500))  # in the store, e.g. full/<sha1 of url>.pdf
    checksum: Mapped[str | None] = mapped_column(String(64), index=True)  # MD5 of the content (Scrapy's)
    size: Mapped[int | None] = mapped_column(Integer)  # bytes
    content_type: Mapped[str | None] = mapped_column(String(200))
    failure: Mapped[str | None] = mapped_column(String(500))  # reason code and detail, when not stored
    attempts: Mapped[int] = mapped_column(Integer)  # fetches tried, this row's whole life
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("article_url", "url", name="uq_article_media_article_url_url"),)
