"""What a re-extraction from the archive reads (cascrawl/reparse/): the stored articles a filter selects,
a page at a time by id, with every column the upsert compares and where each one's response is archived."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cascrawl.db.articles import _CONTENT_COLUMNS, _VALIDATOR_COLUMNS, RECORD_COLUMNS
from cascrawl.db.engine import Connected
from cascrawl.db.models import Article

# Where an article's response is in the WARC archive (cascrawl/archive/): file (relative to the archive's
# folder), offset of the record, its WARC-Record-ID.
ARCHIVE_COLUMNS = RECORD_COLUMNS
# What a re-extraction reads of each row: its identity, what the upsert compares, where it is archived.
READ_COLUMNS = ("id", "url", *_CONTENT_COLUMNS, *_VALIDATOR_COLUMNS, *ARCHIVE_COLUMNS)


@dataclass(frozen=True)
class Selection:
    """Which stored articles: sections (slugs, exact), published dates (inclusive), a template (a parser
    id `cas.article.current@2025`, or its name without the version, `cas.article.current`)."""

    sections: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    template: str | None = None

    def where(self, query):
        if self.sections:
            query = query.where(Article.section.in_(self.sections))
        if self.since is not None:
            query = query.where(Article.published_date >= self.since)
        if self.until is not None:
            query = query.where(Article.published_date <= self.until)
        if self.template:
            query = query.where(or_(Article.template == self.template, Article.template.like(
                self.template.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "@%", escape="\\")))
        return query


def count_selected(database: Connected, selection: Selection) -> int:
    with Session(database.engine) as session:
        return session.scalar(selection.where(select(func.count()).select_from(Article))) or 0


def selected_rows(database: Connected, selection: Selection, after_id: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    """The next `limit` selected rows with an id above `after_id`, by id: plain dicts of READ_COLUMNS."""
    columns = [getattr(Article, name) for name in READ_COLUMNS]
    query = selection.where(select(*columns)).where(Article.id > after_id).order_by(Article.id).limit(limit)
    with Session(database.engine) as session:
        return [dict(row._mapping) for row in session.execute(query)]


def archived_record_of(database: Connected, url: str) -> dict[str, Any] | None:
    """The stored article of this URL (canonical, or as fetched) with where its response is archived:
    {id, url, warc_file, warc_offset, warc_record_id}; None when no article has that URL."""
    columns = [Article.id, Article.url, *(getattr(Article, name) for name in ARCHIVE_COLUMNS)]
    with Session(database.engine) as session:
        for column in (Article.url, Article.fetched_url):
            row = session.execute(select(*columns).where(column == url).order_by(Article.id).limit(1)).first()
            if row is not None:
                return dict(row._mapping)
    return None
