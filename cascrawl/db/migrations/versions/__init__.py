"""Alembic revision scripts (a package so that egg builds, e.g. scrapyd-deploy, include them)."""
