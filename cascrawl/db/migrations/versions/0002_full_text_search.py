"""Chinese full-text search: SQLite FTS5 trigram table + triggers, PostgreSQL pg_trgm GIN indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

A SQLite without the trigram tokenizer (older than 3.34) gets no FTS table: search then falls back
to LIKE, slower but with the same results. See cascrawl/db/fulltext.py.
"""
import logging
from typing import Sequence, Union

from alembic import op

from cascrawl.db import fulltext

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

logger = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        if fulltext.sqlite_has_trigram(connection):
            fulltext.create_sqlite_fts(connection)
        else:
            logger.warning("this SQLite has no FTS5 trigram tokenizer (needs SQLite >= 3.34): "
                           "search will scan with LIKE")
    elif connection.dialect.name == "postgresql":
        fulltext.create_pg_trgm(connection)
        if not fulltext.pg_trgm_sees_chinese(connection):
            logger.warning("this database's LC_CTYPE does not count Chinese characters as letters: the trigram "
                           "indexes cannot serve Chinese searches, which will scan (create the database with a "
                           "UTF-8 locale such as C.UTF-8 for indexed search)")


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        fulltext.drop_sqlite_fts(connection)
    elif connection.dialect.name == "postgresql":
        fulltext.drop_pg_trgm(connection)
