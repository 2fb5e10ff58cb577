"""Read queries of the operator page (cascrawl/api/pages.py): runs a page at a time, articles filtered by section,
publication date and words and sorted by publication or change date, the sections articles are stored under.

Read-only, like cascrawl/db/reads.py, whose filters, run shapes and liveness rule (`as_they_are`) it reuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from cascrawl.db import reads
from cascrawl.db.database import Database
from cascrawl.db.models import Article, CrawlRun, Reject

SORTS = ("changed", "published")  # newest change first, or newest publication first


@dataclass
class RunsPage:
    runs: list[dict[str, Any]]  # newest first, as reads.list_runs gives them
    total: int  # runs recorded


def runs_page(database: Database, page: int = 1, per_page: int = 20) -> RunsPage:
    """Page `page` (from 1) of the runs, newest first, each with every column and `rejects`, as they are now."""
    offset = max(0, page - 1) * per_page
    with Session(database.engine) as session:
        total = session.scalar(select(func.count()).select_from(CrawlRun)) or 0
        rows = session.scalars(select(CrawlRun).order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
                               .offset(offset).limit(per_page))
        found = [{c.key: getattr(run, c.key) for c in CrawlRun.__table__.columns} for run in rows]
        counts = {run_id: count for run_id, count in session.execute(
            select(Reject.run_id, func.count()).where(Reject.run_id.in_([run["id"] for run in found]))
            .group_by(Reject.run_id))} if found else {}
    for run in found:
        run["rejects"] = counts.get(run["id"], 0)
    return RunsPage(reads.as_they_are(database, found), total)


@dataclass(frozen=True)
class ArticleQuery:
    """The article list's filters: reads.ArticleFilter's sections and words, and the publication date."""

    sections: tuple[str, ...] = ()
    q: str | None = None
    published_from: date | None = None  # published on or after
    published_to: date | None = None  # published on or before
    sort: str = "changed"  # one of SORTS


@dataclass
class ArticleListing:
    articles: list[Article]
    total: int  # articles matching, on every page


def article_listing(database: Database, query: ArticleQuery, page: int = 1, per_page: int = 50) -> ArticleListing:
    """Page `page` (from 1) of the matching articles, without their HTML."""
    if query.sort not in SORTS:
        raise ValueError(f"sort: expected one of {', '.join(SORTS)}, got {query.sort!r}")
    filters = reads.ArticleFilter(sections=query.sections, q=query.q)
    with Session(database.engine) as session:
        conditions = filters.conditions(session)
        if query.published_from is not None:
            conditions.append(Article.published_date >= query.published_from)
        if query.published_to is not None:
            conditions.append(Article.published_date <= query.published_to)
        total = session.scalar(select(func.count()).select_from(Article).where(*conditions)) or 0
        order = ((Article.published_date.desc(), Article.id.desc())
                 if query.sort == "published" else (Article.updated_at.desc(), Article.id.desc()))
        rows = session.scalars(select(Article).options(defer(Article.html, raiseload=True)).where(*conditions)
                               .order_by(*order).offset(max(0, page - 1) * per_page).limit(per_page))
        return ArticleListing(list(rows), total)


def stored_sections(database: Database) -> list[str]:
    """The sections articles are stored under, sorted."""
    with Session(database.engine) as session:
        return sorted(session.scalars(select(Article.section).distinct()))
