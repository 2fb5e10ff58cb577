"""HTTP validators on articles (etag, last_modified) for conditional re-fetches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:  # batch mode: SQLite cannot ALTER freely
        batch.add_column(sa.Column("etag", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("last_modified", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("last_modified")
        batch.drop_column("etag")
