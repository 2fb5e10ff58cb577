"""Searching the articles: the matching rule (`search_conditions`, for any query over articles), the
search with its snippets, and bringing the full-text index up to date. The index itself: fulltext.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, and_, any_, case, cast, column, false, func, or_, select, table, text, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from cascrawl.db.engine import Connected
from cascrawl.db import fulltext
from cascrawl.db.models import Article


# The FTS5 table (SQLite), made by migration 0002: not a model, the ORM never writes it.
_FTS = table(fulltext.FTS_TABLE, column("rowid"), column(fulltext.FTS_TABLE))
_FTS_PENDING = table(fulltext.PENDING_TABLE, column("id"))  # migrations 0007 (SQLite), 0009 (PostgreSQL): stored, not indexed yet
# PostgreSQL (migration 0009_pg_search_deferred): the indexed copy of title and text, under a trigram index.
_FTS_DOCUMENTS = table(fulltext.PG_DOCUMENTS_TABLE, column("id"), column("document"))


def search(database: Connected, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Articles whose title or text contains every whitespace-separated term of `query`.

    Terms of three characters or more go through the trigram index (SQLite FTS5, PostgreSQL
    pg_trgm); shorter ones are matched with (I)LIKE. Title matches first, then newest first. Withdrawn
    articles are left out.
    """
    terms = [term for term in query.split() if term]
    if not terms or "\x00" in query:  # no stored title or text holds a NUL (nor can PostgreSQL be sent one)
        return []
    with Session(database.engine) as session:
        conditions = search_conditions(session, query)
        in_title = Article.title.ilike(_like_pattern(terms[0]), escape="\\")
        statement = (
            select(Article.id, Article.url, Article.section, Article.title, Article.published_date, Article.text)
            .where(*conditions, Article.withdrawn_at.is_(None))  # a withdrawn article is not found (db/reads.py)
            .order_by(case((in_title, 0), else_=1), Article.published_date.desc(), Article.id.desc())
            .limit(limit)
        )
        return [
            {"url": row.url, "section": row.section, "title": row.title, "published_date": row.published_date,
             "snippet": _snippet(row.title, row.text, terms)}
            for row in session.execute(statement)
        ]


def sync_search(database: Connected) -> int:
    """Bring the full-text index up to date: index the articles stored (or whose title or text changed)
    since the last sync, in one statement; returns how many. Search finds them before too (it scans
    them), only slower."""
    with database.engine.begin() as connection:
        if database.engine.dialect.name == "sqlite":
            return fulltext.sync_sqlite_fts(connection) if fulltext.sqlite_fts_deferred(connection) else 0
        return fulltext.sync_pg_search(connection) if fulltext.pg_search_deferred(connection) else 0


def search_conditions(session: Session, query: str) -> list:
    """The matching rule of search, for any query over articles: every whitespace-separated term in
    the title or the text. Terms of three characters or more use the trigram index (SQLite FTS5;
    PostgreSQL pg_trgm serves ILIKE), shorter ones a (I)LIKE scan. Takes the session of the query it
    joins (on PostgreSQL it sets a planner option for that transaction)."""
    terms = [term for term in query.split() if term]
    if "\x00" in query:
        # No stored title or text holds a NUL character; FTS5 cannot quote one, PostgreSQL cannot be sent one.
        return [false()]
    long_terms = [term for term in terms if len(term) >= fulltext.MIN_TRIGRAM_TERM]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _pg_conditions(session, terms, long_terms)
    sqlite_fts = bool(long_terms and fulltext.sqlite_fts_present(session.connection()))
    conditions = []
    if sqlite_fts:
        matching = Article.id.in_(
            select(_FTS.c.rowid).where(_FTS.c[fulltext.FTS_TABLE].op("MATCH")(fulltext.fts5_query(long_terms))))
        if fulltext.sqlite_fts_deferred(session.connection()):
            # Articles stored since the last sync are not in the index yet: scanned (usually none, or one
            # running crawl's worth).
            matching = or_(matching, and_(Article.id.in_(select(_FTS_PENDING.c.id)),
                                          *(_contains(term) for term in long_terms)))
        conditions.append(matching)
    for term in terms:
        if not (sqlite_fts and term in long_terms):
            conditions.append(_contains(term))
    return conditions


def _pg_conditions(session: Session, terms: list[str], long_terms: list[str]) -> list:
    if not long_terms:
        return [_contains(term) for term in terms]
    # text is stored out of line (TOAST), so the planner thinks a sequential scan is cheap and
    # skips the trigram indexes: measured 240 ms against a few ms on 5,000 articles.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    if not fulltext.pg_search_deferred(session.connection()):
        return [_contains(term) for term in terms]  # before 0009: the trigram indexes are on articles
    # The trigram index over the indexed copies, and a scan of the articles not indexed yet (since the
    # last sync: usually none, or one running crawl's worth), looked up by id: `id = ANY((SELECT
    # array_agg(id) …))`, an array computed once, so the plan fetches those few by primary key (joined
    # with the pending table, the planner guessed from stale statistics and tested every article's
    # text: 200 ms on 5,000 articles, none pending). One statement, one snapshot: an article a sync
    # or an edit moves between the two at that moment is seen on one side.
    indexed = select(_FTS_DOCUMENTS.c.id).where(
        *(_FTS_DOCUMENTS.c.document.ilike(_like_pattern(term), escape="\\") for term in long_terms))
    waiting = cast(select(func.array_agg(_FTS_PENDING.c.id)).scalar_subquery(), ARRAY(Integer))  # an array, not a set
    scanned = aliased(Article)
    found = union_all(indexed, select(scanned.id).where(
        scanned.id == any_(waiting), *(_contains(term, scanned) for term in long_terms)))
    return [Article.id.in_(found)] + [_contains(term) for term in terms if term not in long_terms]


def _contains(term: str, articles=Article):
    pattern = _like_pattern(term)
    return or_(articles.title.ilike(pattern, escape="\\"), articles.text.ilike(pattern, escape="\\"))


def _like_pattern(term: str) -> str:
    """`%term%` with LIKE's wildcards in the term taken literally (escape character: backslash)."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _snippet(title: str, body: str, terms: list[str], width: int = 40) -> str:
    """The text around the first term found in it, on one line (the start of the text if only the title matched)."""
    lowered = body.lower()
    for term in terms:
        at = lowered.find(term.lower())
        if at >= 0:
            start, end = max(0, at - width), at + len(term) + width
            return ("…" if start else "") + body[start:end].replace("\n", " ") + ("…" if end < len(body) else "")
    return body[:width * 2].replace("\n", " ") + ("…" if len(body) > width * 2 else "")
