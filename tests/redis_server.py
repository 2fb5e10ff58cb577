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


def _free_port() -> int:
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class OwnRedis:
    """A Redis server of the test's own on a free port of 127.0.0.1 (`redis-server` from PATH), for outages:
    `stop()` shuts it down (keeping its data in an append-only file, as a server restarted by systemd would),
    `start()` starts it again on the same port; `start(empty=True)` starts it with its data gone (a server
    without persistence, or a new host); `edit_offline(edit)` changes its data while it is stopped. Never the
    shared server on 6379."""

    def __init__(self, directory):
        import shutil

        self.binary = shutil.which("redis-server")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.prefix = "cascrawl"
        self.process = None

    def start(self, empty: bool = False) -> OwnRedis:
        import subprocess
        import time

        if empty:
            for path in self.directory.glob("appendonly*"):
                if path.is_dir():
                    import shutil

                    shutil.rmtree(path)
                else:
                    path.unlink()
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start")
                time.sleep(0.05)
        client.close()
        return self

    def edit_offline(self, edit) -> None:
        """While stopped: start the server on another free port (its data kept), run `edit(client)` on it and
        stop it again, so that what `edit` changed is there when `start()` brings the server back, before any
        worker could see it."""
        assert self.process is None, "edit_offline needs the server stopped"
        port = self.port
        self.port = _free_port()
        try:
            self.start()
            client = self.client
            try:
                edit(client)
            finally:
                client.close()
            self.stop()
        finally:
            self.port = port

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis-server flushes its append-only file and exits
            self.process.wait(timeout=30)
        self.process = None

    @property
    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1)

    def keys(self) -> list[str]:
        client = self.client
        try:
            return sorted(key.decode() for key in client.scan_iter(match=f"{self.prefix}:*"))
        finally:
            client.close()


@pytest.fixture()
def own_redis(tmp_path):
    """A Redis server of this test's own (OwnRedis), started; stopped after the test. No redis-server
    binary: skips, saying why; under CI (CI=true) fails instead."""
    import shutil

    if shutil.which("redis-server") is None:
        reason = "no redis-server on PATH (apt-get install redis-server) for the Redis outage tests"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    server = OwnRedis(tmp_path / "redis").start()
    yield server
    server.stop()
