"""One engine per database per process: shared by every Database of a URL, its pool closed by the last
holder, never shared with a read-only reader nor across fork; masking a URL's password; the ArticleStore seam."""

from __future__ import annotations

import gc
import inspect
import os
import pickle

import pytest
from sqlalchemy.exc import SQLAlchemyError

from cascrawl.db import ArticleStore, Database, RunLock, crawl_history, engine as engine_module, previous_run_stats
from cascrawl.db.engine import engines_held, error_line
from cascrawl.redact import safe_url, without_password

from .db_backends import db_url, postgres_server  # noqa: F401  (fixtures)
from .test_db_store import article


def test_a_crawl_s_four_users_of_the_database_share_one_engine(db_url, monkeypatch):  # noqa: F811
    """The pre-flight check, the persist pipeline (its Database and its run lock), the spider's history
    and the health check's previous runs: one engine, where each used to build its own."""
    made = []
    create = engine_module._create_engine
    monkeypatch.setattr(engine_module, "_create_engine", lambda url, read_only: made.append(url) or create(url, read_only))
    preflight = Database(db_url).open()
    persist = Database(db_url).open()
    lock = RunLock(persist).acquire()
    assert crawl_history(db_url, ["syky"]).known_urls == set()
    assert previous_run_stats(db_url, None) == []
    lock.release()
    assert len(made) == 1 and persist.engine is preflight.engine
    preflight.close()
    persist.close()


def test_the_last_holder_closes_the_pool_and_a_later_one_gets_the_same_engine(db_url):  # noqa: F811
    first, second = Database(db_url).open(), Database(db_url)
    first.upsert_articles([article(1)])
    pool = first.engine.pool
    assert pool.checkedin() >= 1
    first.close()
    first.close()  # twice: still one holder fewer, not two
    assert second.engine.pool is pool and engines_held()[(safe_url(second.url), False)] == 1
    second.close()
    assert second.engine.pool is not pool and second.engine.pool.checkedin() == 0  # disposed: connections closed
    third = Database(db_url)
    assert third.engine is second.engine and third.count_articles() == 1
    third.close()


def test_an_engine_no_database_refers_to_is_gone(tmp_path):
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    database = Database(url).open()
    key = (safe_url(database.url), False)
    assert key in engines_held()
    del database
    gc.collect()
    assert key not in engines_held()


def test_a_reader_has_an_engine_of_its_own_that_refuses_writes(db_url):  # noqa: F811
    writer = Database(db_url).open()
    reader = writer.reader()
    assert reader.engine is not writer.engine and reader.read_only
    assert reader.reader().engine is reader.engine
    with pytest.raises(SQLAlchemyError):
        reader.upsert_articles([article(1)])
    assert writer.upsert_articles([article(1)]).inserted == 1  # the writer of the same URL still writes
    assert reader.count_articles() == 1
    reader.close()
    writer.close()


def test_in_memory_databases_stay_private():
    one, other = Database("sqlite://").open(), Database("sqlite://").open()
    one.upsert_articles([article(1)])
    assert one.engine is not other.engine and (one.count_articles(), other.count_articles()) == (1, 0)
    one.close()
    other.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_forked_child_never_uses_its_parent_s_connections(db_url):  # noqa: F811
    database = Database(db_url)  # not opened: one connection in its pool (the pool hands them out in turn)

    def backend_pid() -> int:
        with database.engine.connect() as connection:
            return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()

    parent = backend_pid()  # now pooled
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: the same Database object, a connection of its own
        try:
            os.write(write, pickle.dumps(backend_pid()))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        in_child = pickle.loads(pipe.read())
    os.waitpid(child, 0)
    assert in_child != parent
    assert backend_pid() == parent  # the parent's pooled connection survived the child
    database.close()


def test_one_masking_rule_for_database_and_redis_urls():
    assert safe_url("postgresql+psycopg://cas:s3cret@db.example:5432/cascrawl") == \
        "postgresql+psycopg://cas:***@db.example:5432/cascrawl"
    assert safe_url("redis://:s3cret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert safe_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert safe_url("localhost:6379") == "localhost:6379"  # not a URL, no credentials: shown as it is
    assert safe_url("not a url:s3cret@host") == "<unparseable URL>"
    assert safe_url("") == ""
    assert without_password('connection to "cas:s3cret@host" failed', "postgresql://cas:s3cret@host/db") == \
        'connection to "cas:***@host" failed'
    assert error_line(ValueError("password s3cret refused\nsecond line"), "postgresql://cas:s3cret@host/db") == \
        "password *** refused"


def test_database_implements_the_article_store_seam():
    """Every method of the seam exists on Database with the same parameters."""
    methods = [name for name, value in vars(ArticleStore).items() if inspect.isfunction(value) and not name.startswith("_")]
    assert {"open", "upsert_articles", "start_run", "finish_run", "sync_search"} <= set(methods)
    for name in methods:
        expected = inspect.signature(getattr(ArticleStore, name)).parameters
        assert list(inspect.signature(getattr(Database, name)).parameters) == list(expected), name


_COUNTING_CRAWL = """
import sys
from cascrawl.db import engine
made = []
create = engine._create_engine
engine._create_engine = lambda url, read_only: made.append(engine.safe_url(url)) or create(url, read_only)
from cascrawl.cli import main
code = main(sys.argv[1:])
print(f"engines made: {made}", file=sys.stderr)
sys.exit(code)
"""


def test_cascrawl_crawl_builds_one_engine(site_url, tmp_path):
    import subprocess
    import sys

    from .conftest import FAST, REPO

    db = f"sqlite:///{tmp_path / 'one.db'}"
    result = subprocess.run([sys.executable, "-c", _COUNTING_CRAWL, "crawl", "--base-url", site_url, "--db", db,
                             "--section", "syky", *FAST], capture_output=True, text=True, timeout=180, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == f"engines made: [{safe_url(db)!r}]"
