"""A run's truth: when its end was notified, and each distributed worker's heartbeat and counts so far.

Revision ID: 0012_run_truth
Revises: 0011_run_heartbeat
Create Date: 2026-12-02

crawl_runs.notified_at: set once by whoever notifies a run's end (the crawl's Notify extension, or
`cascrawl health` / `cascrawl serve` for a run they find killed): the claim that makes it notified once.
run_workers.heartbeat_at and run_workers.live: a distributed worker's last sign of life and its counts so
far, as crawl_runs has them for a lone run, so that a dead worker shows as one and a live run's counts are
every worker's. Null for the rows recorded before.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0012_run_truth"
down_revision: Union[str, Sequence[str], None] = "0011_run_heartbeat"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("run_workers") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("live", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_workers") as batch:
        batch.drop_column("live")
        batch.drop_column("heartbeat_at")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("notified_at")
