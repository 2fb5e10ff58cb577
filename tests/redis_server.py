"""Redis for the distributed-crawl tests: the server named by CASCRAWL_TEST_REDIS_URL (default
redis://127.0.0.1:6379/0). Each test gets a key prefix of its own (`cascrawl_test_<hex>`), and every
key under it is deleted after the test. No server: the tests skip, saying why; under CI (CI=true) they
fail instead, as the PostgreSQL tests do (tests/db_backends.py).

Import the fixture into a test module: `from .redis_server import redis_run  # noqa: F401`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

import pytest
import redis

REDIS_URL_VARIABLE = "CASCRAWL_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class RedisRun:
    url: str
    prefix: str
    client: redis.Redis

    def keys(self) -> list[str]:
        return sorted(key.decode() for key in self.client.scan_iter(match=f"{self.prefix}:*"))


@pytest.fixture()
def redis_run():
    url = os.environ.get(REDIS_URL_VARIABLE, DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.ping()
    except (redis.RedisError, ValueError) as error:
        reason = f"Redis not usable at {url} ({error}); set {REDIS_URL_VARIABLE} to a Redis server"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    run = RedisRun(url, f"cascrawl_test_{secrets.token_hex(4)}", client)
    yield run
    for key in client.scan_iter(match=f"{run.prefix}:*"):
        client.delete(key)
    client.close()
