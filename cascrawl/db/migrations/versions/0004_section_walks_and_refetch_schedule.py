"""Completeness boundaries per section (section_walks) and the re-fetch schedule of rejected pages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "section_walks",
        sa.Column("section", sa.String(length=100), nullable=False),
        sa.Column("boundary_url", sa.String(length=500), nullable=True),
        sa.Column("boundary_date", sa.Date(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_run_id", sa.Integer(), nullable=True),
        sa.Column("walk_run_id", sa.Integer(), nullable=True),
        sa.Column("walk_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("walk_complete", sa.Boolean(), nullable=False),
        sa.Column("walk_pages", sa.Integer(), nullable=False),
        sa.Column("pages_total", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("section", name=op.f("pk_section_walks")),
    )
    op.create_table(
        "refetch_schedule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("fetched_url", sa.String(length=1000), nullable=False),
        sa.Column("section", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("permanent", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_tried_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refetch_schedule")),
        sa.UniqueConstraint("url", name=op.f("uq_refetch_schedule_url")),
    )
    op.create_index("ix_refetch_schedule_next_try_at", "refetch_schedule", ["next_try_at"])


def downgrade() -> None:
    op.drop_index("ix_refetch_schedule_next_try_at", table_name="refetch_schedule")
    op.drop_table("refetch_schedule")
    op.drop_table("section_walks")
