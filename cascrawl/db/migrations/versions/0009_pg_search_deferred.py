"""PostgreSQL full-text index kept in bulk: the trigram index on a table of its own, filled at each sync.

Revision ID: 0009_pg_search_deferred
Revises: 0008_run_workers
Create Date: 2026-12-01

The GIN trigram indexes on articles.title and articles.text were kept current by every insert: ~1 ms per
article of 1,600 characters, 75% of a first insert (scripts/bench_storage.py: 566 articles/s with them,
1,727 without). From here a statement trigger only notes a new article's id in articles_fts_pending; the
crawl copies the noted articles into articles_fts_documents (title, newline, text), whose one trigram
index serves search, every 1,000 articles and when it closes, and search scans the pending ones
meanwhile (see cascrawl/db/fulltext.py). The articles already stored are copied and indexed here.
The long text columns are compressed with lz4 from here when the server has it (half an insert's
server time); values already stored keep pglz.
SQLite: nothing changes here (0007_fulltext_deferred did the same for its FTS5 table).
"""
from typing import Sequence, Union

from alembic import op

from cascrawl.db import fulltext

# revision identifiers, used by Alembic.
revision: str = "0009_pg_search_deferred"
down_revision: Union[str, Sequence[str], None] = "0008_run_workers"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        fulltext.defer_pg_search(connection)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql" and fulltext.pg_search_deferred(connection):
        fulltext.undefer_pg_search(connection)
