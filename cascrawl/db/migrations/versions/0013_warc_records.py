"""Each article and each revision knows the WARC record of the response it came from.

Revision ID: 0013_warc_records
Revises: 0011_run_heartbeat
Create Date: 2026-12-02

articles.warc_file / warc_offset / warc_record_id, and the same in article_revisions: the archive file
(relative to the archive folder, cascrawl/archive/paths.py), the byte offset of the response record's gzip
member in it, and its WARC-Record-ID. Null for rows stored before, or with the archive off.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013_warc_records"
down_revision: Union[str, Sequence[str], None] = "0011_run_heartbeat"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("articles", "article_revisions")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("warc_file", sa.String(300), nullable=True))
            batch.add_column(sa.Column("warc_offset", sa.BigInteger(), nullable=True))
            batch.add_column(sa.Column("warc_record_id", sa.String(100), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("warc_record_id")
            batch.drop_column("warc_offset")
            batch.drop_column("warc_file")
