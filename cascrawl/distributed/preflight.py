"""The pre-flight check of distributed mode (`refusal`): what the CLI and `scrapy crawl` say in one line
before any engine starts. Imports redis-py and cascrawl.redact."""

from __future__ import annotations

import redis

from cascrawl.redact import safe_url


def refusal(settings) -> str | None:
    """Why distributed mode cannot start with these settings, in one line (None: it can, or is off)."""
    url = settings.get("CASCRAWL_REDIS_URL")
    if not url:
        return None
    database = settings.get("CASCRAWL_DATABASE_URL") or ""
    if database.startswith("sqlite"):
        return ("distributed crawling (--redis) needs PostgreSQL: several workers cannot share a SQLite file "
                "safely; use --db postgresql+psycopg://…")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except (redis.RedisError, ValueError) as error:
        return f"cannot reach Redis at {safe_url(url)}: {error}"
    return None

