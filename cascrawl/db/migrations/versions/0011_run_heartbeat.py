"""A running crawl's heartbeat: when it last said it was alive, and its counts so far.

Revision ID: 0011_run_heartbeat
Revises: 0010_walk_unread_and_deep
Create Date: 2026-12-02

crawl_runs.heartbeat_at: written every CASCRAWL_HEARTBEAT_SECONDS by a running crawl
(cascrawl/run/heartbeat.py); a `running` run whose heartbeat is stale and whose run lock is free is read
as `interrupted` (cascrawl/db/reads.py). crawl_runs.live: the counts so far ({stats key: value}) and the
heartbeat's interval, so a live run shows what it has done. Null for the runs recorded before.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0011_run_heartbeat"
down_revision: Union[str, Sequence[str], None] = "0010_walk_unread_and_deep"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("live", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("live")
        batch.drop_column("heartbeat_at")
