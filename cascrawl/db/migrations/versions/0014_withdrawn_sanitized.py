"""Withdrawn articles, and the body fragments stored before the allow-list sanitizer sanitized.

Revision ID: 0014_withdrawn_sanitized
Revises: 0013_warc_records
Create Date: 2026-12-02

articles.withdrawn_at: when the article's page was found gone (404/410 on two checks in a row); null while
it is there. A withdrawn article keeps its row and text, is left out of the default listings and reaches
the change cursor as a tombstone (cascrawl/db/reads.py); a 200 again clears it.

articles.html and article_revisions.html: every stored fragment through cascrawl/sanitize.py (the
parsers' earlier fragment kept event handlers and javascript: links). Neither the contract's fields nor
updated_at change: the fragment is not in the export contract. Downgrade drops the column and leaves the
sanitized fragments as they are (the handlers they lost are not worth restoring).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from cascrawl.sanitize import sanitize_html

# revision identifiers, used by Alembic.
revision: str = "0014_withdrawn_sanitized"
down_revision: Union[str, Sequence[str], None] = "0013_warc_records"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:  # SQLite: a plain ADD COLUMN (the full-text triggers stay)
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    for name in ("articles", "article_revisions"):
        _sanitize_fragments(connection, sa.table(name, sa.column("id", sa.Integer), sa.column("html", sa.Text)))


def _sanitize_fragments(connection, table) -> None:
    """Every non-null fragment of `table` sanitized, read in id order a batch at a time; only changed rows written."""
    last = 0
    while True:
        rows = connection.execute(sa.select(table.c.id, table.c.html)
                                  .where(table.c.id > last, table.c.html.is_not(None))
                                  .order_by(table.c.id).limit(_BATCH)).all()
        if not rows:
            return
        changed = [{"row_id": row.id, "clean": clean} for row in rows if (clean := sanitize_html(row.html)) != row.html]
        if changed:
            connection.execute(table.update().where(table.c.id == sa.bindparam("row_id"))
                               .values(html=sa.bindparam("clean")), changed)
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("withdrawn_at")
