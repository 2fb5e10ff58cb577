"""Initial schema: articles, article_revisions, crawl_runs, rejects.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# JSON documents: JSONB on PostgreSQL (comparable, indexable), JSON text on SQLite.
JSON_VALUE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("fetched_url", sa.String(length=1000), nullable=False),
        sa.Column("docid", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("published_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("editor", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("attachments", JSON_VALUE, nullable=False),
        sa.Column("images", JSON_VALUE, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("script", sa.String(length=20), nullable=True),
        sa.Column("template", sa.String(length=50), nullable=True),
        sa.Column("provenance", JSON_VALUE, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
        sa.UniqueConstraint("url", name=op.f("uq_articles_url")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Room on each page for a new row version: a re-crawl only moves last_seen_at, an unindexed
        # column, so the update stays on the page (HOT) and the GIN trigram indexes are not touched.
        # Measured 5x faster re-crawls (scripts/bench_storage.py); text and html live in TOAST anyway.
        op.execute("ALTER TABLE articles SET (fillfactor = 50)")
    op.create_index(op.f("ix_articles_docid"), "articles", ["docid"])
    op.create_index("ix_articles_section_published", "articles", ["section", "published_date"])
    op.create_index("ix_articles_updated_id", "articles", ["updated_at", "id"])

    op.create_table(
        "article_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("fetched_url", sa.String(length=1000), nullable=False),
        sa.Column("docid", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("published_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("editor", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("attachments", JSON_VALUE, nullable=False),
        sa.Column("images", JSON_VALUE, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("script", sa.String(length=20), nullable=True),
        sa.Column("template", sa.String(length=50), nullable=True),
        sa.Column("provenance", JSON_VALUE, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE",
                                name=op.f("fk_article_revisions_article_id_articles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_revisions")),
        sa.UniqueConstraint("article_id", "revision", name="uq_article_revisions_article_revision"),
    )

    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("sections", JSON_VALUE, nullable=False),
        sa.Column("settings", JSON_VALUE, nullable=False),
        sa.Column("stats", JSON_VALUE, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_runs")),
    )
    op.create_index("ix_crawl_runs_started_at", "crawl_runs", ["started_at"])

    op.create_table(
        "rejects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["crawl_runs.id"], ondelete="SET NULL",
                                name=op.f("fk_rejects_run_id_crawl_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejects")),
    )
    op.create_index(op.f("ix_rejects_url"), "rejects", ["url"])
    op.create_index(op.f("ix_rejects_run_id"), "rejects", ["run_id"])


def downgrade() -> None:
    op.drop_table("rejects")
    op.drop_table("crawl_runs")
    op.drop_table("article_revisions")
    op.drop_table("articles")
