"""Media archive: videos recorded on every article (articles.videos, article_revisions.videos) and the
files the archive keeps per article (article_media).

Revision ID: 0006_media_archive
Revises: 0005_run_coverage_log
Create Date: 2026-11-30

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_media_archive"
down_revision: Union[str, Sequence[str], None] = "0005_run_coverage_log"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON_VALUE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite allows it with a constant default): batch mode would rebuild `articles`
    # on SQLite and drop the full-text triggers of migration 0002 with it.
    for table in ("articles", "article_revisions"):
        op.add_column(table, sa.Column("videos", JSON_VALUE, nullable=False, server_default=sa.text("'[]'")))
    op.create_table(
        "article_media",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_url", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_media")),
        sa.UniqueConstraint("article_url", "url", name="uq_article_media_article_url_url"),
    )
    op.create_index("ix_article_media_article_url", "article_media", ["article_url"])
    op.create_index("ix_article_media_checksum", "article_media", ["checksum"])


def downgrade() -> None:
    op.drop_index("ix_article_media_checksum", table_name="article_media")
    op.drop_index("ix_article_media_article_url", table_name="article_media")
    op.drop_table("article_media")
    for table in ("article_revisions", "articles"):
        op.drop_column(table, "videos")  # SQLite 3.35+ drops a column in place (triggers kept)
