"""Alembic migrations of cascrawl's schema (env.py, versions/). Run them with `cascrawl db upgrade`."""
