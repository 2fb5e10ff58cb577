"""The WARC record columns in the store, on real SQLite and PostgreSQL: a new article gets its record, a
revision keeps the record of the version it archives, an article seen again points at its newer record
(still counted unchanged), and a fetch without a record never erases the one stored for the same content."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cascrawl.db import Article, ArticleRevision, Database

from .db_backends import db_url, postgres_server  # noqa: F401  (fixtures)
from .test_db_store import article


def _record(n: int) -> dict:
    return {"warc_file": f"cascrawl-run{n}-00001.warc.gz", "warc_offset": 1000 * n,
            "warc_record_id": f"<urn:uuid:00000000-0000-0000-0000-{n:012d}>"}


def _stored(database: Database) -> tuple[tuple, list[tuple]]:
    with Session(database.engine) as session:
        row = session.scalars(select(Article)).one()
        revisions = session.scalars(select(ArticleRevision).order_by(ArticleRevision.revision)).all()
        return ((row.revision, row.warc_file, row.warc_offset, row.warc_record_id),
                [(r.revision, r.warc_file, r.warc_offset, r.warc_record_id) for r in revisions])


def test_each_version_keeps_its_own_record(db_url):  # noqa: F811
    database = Database(db_url).open()
    try:
        assert database.upsert_articles([article(1, **_record(1))]).inserted == 1
        assert _stored(database) == ((1, *_record(1).values()), [])

        seen_again = database.upsert_articles([article(1, **_record(2))])  # same content, a newer fetch
        assert (seen_again.unchanged, seen_again.refreshed) == (1, 0)
        assert _stored(database) == ((1, *_record(2).values()), [])

        without = database.upsert_articles([article(1)])  # fetched with the archive off (or a gap)
        assert without.unchanged == 1 and _stored(database) == ((1, *_record(2).values()), [])

        revised = database.upsert_articles([article(1, text="改过的正文。", **_record(3))])
        assert revised.revised == 1
        assert _stored(database) == ((2, *_record(3).values()), [(1, *_record(2).values())])

        database.upsert_articles([article(1, text="又改了。")])  # a new version without a record has none
        assert _stored(database) == ((3, None, None, None), [(1, *_record(2).values()), (2, *_record(3).values())])
    finally:
        database.close()
