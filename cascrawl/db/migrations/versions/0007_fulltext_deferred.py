"""SQLite full-text index kept in bulk: a new article's id waits in articles_fts_pending until the next sync.

Revision ID: 0007_fulltext_deferred
Revises: 0006_media_archive
Create Date: 2026-11-30

Indexing each article's trigrams as it is inserted cost over 80% of a first insert (scripts/bench_storage.py:
503 articles/s with the index, 2,954 without). From here the insert trigger only notes the id; the
crawl indexes the noted articles in one statement when it opens and when it closes, and search scans
the pending ones meanwhile (see cascrawl/db/fulltext.py). PostgreSQL: nothing changes here.
"""
from typing import Sequence, Union

from alembic import op

from cascrawl.db import fulltext

# revision identifiers, used by Alembic.
revision: str = "0007_fulltext_deferred"
down_revision: Union[str, Sequence[str], None] = "0006_media_archive"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite" and fulltext.sqlite_fts_present(connection):
        fulltext.defer_sqlite_fts(connection)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite" and fulltext.sqlite_fts_deferred(connection):
        fulltext.undefer_sqlite_fts(connection)
