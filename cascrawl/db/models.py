"""Tables of cascrawl (SQLAlchemy 2 typed declarative). The schema is the downstream contract."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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
    type_annotation_map = {datetime: AwareDateTime, dict[str, Any]: JSON, list[dict[str, Any]]: JSON}


class Article(Base):
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
    content_hash: Mapped[str] = mapped_column(String(64))
    script: Mapped[str | None] = mapped_column(String(20))
    template: Mapped[str | None] = mapped_column(String(50))
    provenance: Mapped[dict[str, Any]]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]  # when the content last changed (or first arrived)
    revision: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_articles_section_published", "section", "published_date"),
        Index("ix_articles_updated_id", "updated_at", "id"),  # downstream cursors
    )


class Reject(Base):
    """A page that was fetched but not stored as an article, and why."""

    __tablename__ = "rejects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(1000), index=True)
    reason: Mapped[str] = mapped_column(String(100))
    detail: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[datetime]
