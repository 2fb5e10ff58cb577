"""Per run: field coverage (crawl_runs.coverage) and the path of its log file (crawl_runs.log_file).

Revision ID: 0005_run_coverage_log
Revises: 0004
Create Date: 2026-11-30

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_run_coverage_log"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON_VALUE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("coverage", JSON_VALUE, nullable=True))
        batch.add_column(sa.Column("log_file", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("log_file")
        batch.drop_column("coverage")
