"""Section walks remember the listing pages they could not read and when the last deep walk ended.

Revision ID: 0010_walk_unread_and_deep
Revises: 0009_pg_search_deferred
Create Date: 2026-12-01

section_walks.pages_unread: the listing pages the latest walk could not read ("URL (reason)"): such a
walk is incomplete, and `cascrawl stats` names the pages. section_walks.deep_walked_at: the end of the
last complete walk that read every listing page down to the last one; a run walks every listing page
of a section whose deep walk is CASCRAWL_DEEP_WALK_DAYS old (late and back-dated articles). Null for
the sections walked before: their next run walks deep.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0010_walk_unread_and_deep"
down_revision: Union[str, Sequence[str], None] = "0009_pg_search_deferred"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("section_walks") as batch:
        batch.add_column(sa.Column("pages_unread", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                                   nullable=True))
        batch.add_column(sa.Column("deep_walked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("section_walks") as batch:
        batch.drop_column("deep_walked_at")
        batch.drop_column("pages_unread")
