"""`cascrawl db …`, `alembic upgrade head`, a schema that is behind, and PostgreSQL URLs that cannot work."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect

from cascrawl.cli import main
from cascrawl.db import migrate

from .conftest import FAST, REPO, expected_articles, run_cascrawl
from .db_backends import db_url, postgres_server  # noqa: F401  (fixtures)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """`cascrawl ARGS` in this process (the db commands need no reactor): exit code, stdout, stderr."""
    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def test_alembic_upgrade_head_on_an_empty_postgresql(postgres_server, tmp_path):  # noqa: F811
    url = postgres_server.create_database()
    try:
        result = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], capture_output=True, text=True,
                                cwd=REPO, timeout=120, env={**os.environ, "CASCRAWL_DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert "Running upgrade  -> 0001" in result.stderr and "0001 -> 0002" in result.stderr
        engine = create_engine(url)
        try:
            assert {"articles", "article_revisions", "crawl_runs", "rejects"} <= set(inspect(engine).get_table_names())
            # Search's trigram index: on the table filled in bulk (0009_pg_search_deferred), not on articles.
            assert {"ix_articles_fts_documents_trgm"} <= {
                index["name"] for index in inspect(engine).get_indexes("articles_fts_documents")}
            assert not {"ix_articles_title_trgm", "ix_articles_text_trgm"} & {
                index["name"] for index in inspect(engine).get_indexes("articles")}
        finally:
            engine.dispose()
        current = run_cascrawl("db", "current", "--db", url)  # a separate process, like an operator
        assert current.returncode == 0 and f"{migrate.head_revision()} (head): up to date" in current.stdout
    finally:
        postgres_server.drop_database(url)


def test_db_upgrade_and_current(db_url, capsys):  # noqa: F811
    empty = cli(capsys, "db", "current", "--db", db_url)
    if db_url.startswith("sqlite"):  # no file yet: said so, and not created
        assert empty.returncode == 1 and "no database file" in empty.stderr
    else:
        assert empty.returncode == 3 and "empty (no cascrawl tables)" in empty.stdout
    partial = cli(capsys, "db", "upgrade", "--db", db_url, "--revision", "0001")
    assert partial.returncode == 0 and "upgraded from empty to 0001" in partial.stdout
    behind = cli(capsys, "db", "current", "--db", db_url)
    assert behind.returncode == 3 and "0001, behind head" in behind.stdout
    upgraded = cli(capsys, "db", "upgrade", "--db", db_url)
    assert upgraded.returncode == 0 and f"upgraded from 0001 to {migrate.head_revision()}" in upgraded.stdout
    again = cli(capsys, "db", "upgrade", "--db", db_url)
    assert again.returncode == 0 and "already at" in again.stdout
    assert cli(capsys, "db", "current", "--db", db_url).returncode == 0
    unknown = cli(capsys, "db", "upgrade", "--db", db_url, "--revision", "nosuch")
    assert unknown.returncode == 1 and "Can't locate revision" in unknown.stderr and unknown.stderr.count("\n") == 1


def test_a_crawl_stops_before_fetching_when_the_schema_is_behind_and_runs_after_db_upgrade(db_url, site_url,  # noqa: F811
                                                                                           capsys):
    assert cli(capsys, "db", "upgrade", "--db", db_url, "--revision", "0001").returncode == 0
    refused = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "cm", *FAST)
    assert refused.returncode == 1
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("cascrawl: error:")]
    assert "schema revision 0001" in line and "cascrawl db upgrade" in line
    assert "Spider opened" not in refused.stderr
    assert cli(capsys, "db", "upgrade", "--db", db_url).returncode == 0
    crawled = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "cm", *FAST)
    assert crawled.returncode == 0, crawled.stderr[-2000:]
    assert f"{sum(1 for a in expected_articles() if a['section'] == 'cm')} articles stored" in crawled.stdout


def test_db_search_is_an_alias_of_search(crawled, capsys):
    db, _ = crawled
    result = cli(capsys, "db", "search", "脑机接口", "--db", db)
    assert result.returncode == 0, result.stderr
    assert "我国侵入式脑机接口进入临床试验阶段" in result.stdout
    assert "https://www.cas.cn/syky/202506/t20250614_5073157.shtml" in result.stdout
    search = cli(capsys, "search", "脑机接口", "--db", db)
    assert (result.returncode, result.stdout, result.stderr) == (search.returncode, search.stdout, search.stderr)
    both = [cli(capsys, *command, "研究", "--limit", "2", "--json", "--db", db) for command in (["db", "search"], ["search"])]
    assert both[0].stdout == both[1].stdout and both[0].stdout.count('"url"') == 2
    nothing = cli(capsys, "db", "search", "不存在的词语组合", "--db", db)
    assert nothing.returncode == 0 and nothing.stdout == "" and "0 article(s) found" in nothing.stderr


@pytest.mark.parametrize("make_url, message", [
    (lambda server: f"postgresql+psycopg://cas:s3cret-pw@127.0.0.1:{_closed_port()}/cas", "Connection refused"),
    # Trust authentication accepts any password, so a wrong one cannot fail here: an unknown role does.
    (lambda server: server.url.set(username="no_such_role_cascrawl", password="s3cret-pw").render_as_string(False),
     'role "no_such_role_cascrawl" does not exist'),
    (lambda server: server.url.set(database="no_such_db_cascrawl", password="s3cret-pw").render_as_string(False),
     'database "no_such_db_cascrawl" does not exist'),
])
def test_a_postgresql_url_that_cannot_work_is_one_line_without_the_password(make_url, message, postgres_server,  # noqa: F811
                                                                            site_url):
    url = make_url(postgres_server)
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", url, *FAST)
    assert result.returncode == 1
    assert "s3cret-pw" not in result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("cascrawl: error: cannot open database postgresql+psycopg://") and message in line
    assert ":***@" in line
    assert "Spider opened" not in result.stderr


def test_a_plain_postgresql_url_means_psycopg_3(capsys):
    result = cli(capsys, "db", "current", "--db", f"postgresql://cas:s3cret-pw@127.0.0.1:{_closed_port()}/cas")
    assert result.returncode == 1 and "s3cret-pw" not in result.stderr
    assert "postgresql+psycopg://cas:***@127.0.0.1" in result.stderr and "psycopg2" not in result.stderr
