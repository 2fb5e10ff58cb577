"""Bad input gives one clear line on stderr and a non-zero exit, before any page is fetched."""

from __future__ import annotations

import socket

import pytest

from .conftest import FAST, run_cascrawl


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("db_url, message", [
    ("postgresql://host:notaport/db", "malformed database URL"),  # a plain path is a SQLite file (test_cli_sections)
    ("nosuchdb://x/y", "unsupported database URL"),
    ("sqlite:////nonexistent-dir/deeper/cascrawl.db", "cannot open database"),
])
def test_a_bad_database_url_is_refused_before_crawling(site_url, db_url, message):
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, *FAST)
    assert result.returncode == 1
    assert f"cascrawl: error: {message}" in result.stderr
    assert "Spider opened" not in result.stderr  # nothing was crawled


def test_a_database_password_is_never_printed(site_url):
    port = _closed_port()
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", f"postgresql://cas:s3cret-pw@127.0.0.1:{port}/cas", *FAST)
    assert result.returncode == 1
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "cascrawl: error:" in result.stderr


def test_an_unreachable_site_says_so_and_suggests_the_demo(tmp_path):
    base = f"http://127.0.0.1:{_closed_port()}"
    result = run_cascrawl("crawl", "--base-url", base, "--db", f"sqlite:///{tmp_path / 'x.db'}", "--section", "yw",
                          *FAST, "-s", "RETRY_TIMES=0")
    assert result.returncode == 1
    assert f"could not reach {base}" in result.stderr and "cascrawl demo`" in result.stderr


def test_export_from_a_missing_database_is_an_error_not_an_empty_file(tmp_path):
    target = tmp_path / "absent.db"
    result = run_cascrawl("export", "--db", f"sqlite:///{target}")
    assert result.returncode == 1 and "no database file" in result.stderr
    assert not target.exists()


def test_a_malformed_setting_is_a_usage_error():
    result = run_cascrawl("crawl", "-s", "NOEQUALS")
    assert result.returncode == 2 and "NAME=VALUE" in result.stderr
