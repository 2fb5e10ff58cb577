"""Shared test fixtures: the fixture copy of the site served on loopback, and a real crawl of it; and the
markers (`slow`, `postgres`, `redis`, `browser`) each test gets from what it uses, so `make test-fast` can
leave out what needs a child process, a server or a browser without any test file having to say so."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import types
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from filelock import FileLock

from tests.support.fixture_site import serve_site

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "fixtures" / "site"
# Loopback copy: no politeness delay, a few requests at once.
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CASCRAWL_RETRY_BACKOFF_BASE=0",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "LOG_LEVEL=INFO"]

# --- markers ---------------------------------------------------------------------------------------------

# A test needs PostgreSQL, Redis or Chromium when it uses one of these fixtures (or, for PostgreSQL, runs
# with the backend parameter "postgresql", or asks for a database of it by name: fresh_database("postgresql", …)).
SERVICE_FIXTURES = {
    "postgres": {"postgres_server", "postgres_crawled_template"},
    "redis": {"redis_run", "own_redis"},
    "browser": {"chromium", "browser_page"},
}


def pytest_itemcollected(item):
    if not isinstance(item, pytest.Function):
        return
    used = set(item.fixturenames)
    for marker, fixtures in SERVICE_FIXTURES.items():
        if used & fixtures:
            item.add_marker(marker)
    if "postgres" not in item.keywords and _asks_for_postgresql(item):
        item.add_marker("postgres")
    if "slow" not in item.keywords and _starts_a_process(item):
        item.add_marker("slow")


def _fixture_definitions(item) -> list:
    """The definitions of the fixtures the test uses (pytest's FixtureDef, .func the fixture's function).
    item._fixtureinfo and session._fixturemanager are pytest's own: renamed, every collection fails at once."""
    return [definitions[-1] for definitions in item._fixtureinfo.name2fixturedefs.values() if definitions]


def _codes(function) -> list[types.CodeType]:
    """The code of a function and of the functions, lambdas and comprehensions written inside it."""
    found, todo = [], [function.__code__]
    while todo:
        code = todo.pop()
        found.append(code)
        todo.extend(constant for constant in code.co_consts if isinstance(constant, types.CodeType))
    return found


def _asks_for_postgresql(item) -> bool:
    params = getattr(item, "callspec", None)
    if params is not None and "postgresql" in params.params.values():
        return True
    functions = [item.obj, *(definition.func for definition in _fixture_definitions(item))]
    return any("postgresql" in code.co_consts for function in functions for code in _codes(function))


def _starts_a_process(item) -> bool:
    """Whether the test starts a child process (a crawl, `cascrawl serve`, redis-server, a script): its code,
    a fixture it uses (also by `request.getfixturevalue("name")`), or a function or class of tests/ that
    they name refers to the subprocess module."""
    manager = item.session._fixturemanager
    todo = [item.obj, *(definition.func for definition in _fixture_definitions(item))]
    seen: set[int] = set()
    while todo:
        thing = todo.pop()
        if id(thing) in seen:
            continue
        seen.add(id(thing))
        if isinstance(thing, type):  # a helper class: its methods
            todo.extend(vars(thing).values())
            continue
        thing = getattr(thing, "__func__", thing)  # staticmethod, classmethod
        if not isinstance(thing, types.FunctionType):
            continue
        for code in _codes(thing):
            if "subprocess" in code.co_names:
                return True
            for name in code.co_names:
                value = thing.__globals__.get(name)
                if str(getattr(value, "__module__", None)).startswith("tests."):
                    todo.append(value)
            for constant in code.co_consts:
                if isinstance(constant, str) and constant.isidentifier():
                    todo.extend(definition.func for definition in manager.getfixturedefs(constant, item) or ())
    return False


@pytest.fixture(scope="session", autouse=True)
def state_home(tmp_path_factory):
    """Crawls into PostgreSQL keep their log files (and spools) in $XDG_STATE_HOME/cascrawl: a folder of the
    test session's, not the home directory. Child processes inherit it."""
    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    if previous is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = previous


def expected_articles(unlisted: bool = False) -> list[dict]:
    """Every hand-written expected article, with `page` = its HTML file: those a crawl of the fixture copy
    stores, and with `unlisted` also the gold pages no listing links (`"listed": false`, fixtures/README.md)."""
    found = []
    for path in sorted(SITE.rglob("*.expected.json")):
        if path.name.startswith("index"):
            continue
        expected = json.loads(path.read_text(encoding="utf-8"))
        if expected.get("listed") is False and not unlisted:
            continue
        expected["page"] = path.with_name(path.name.replace(".expected.json", ".shtml"))
        found.append(expected)
    return found


def expected_listings() -> list[tuple[Path, dict]]:
    return [
        (path.with_name(path.name.replace(".expected.json", ".shtml")), json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(SITE.rglob("index*.expected.json"))
    ]


def run_cascrawl(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """The real `cascrawl` command in a child process (a fresh Twisted reactor each time)."""
    return subprocess.run(
        [sys.executable, "-m", "cascrawl", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def once_per_session(tmp_path_factory, name: str, make: Callable[[Path], dict]) -> dict:
    """`make(folder)` done once in the test session, also when pytest-xdist runs it in several worker processes
    (`make test`): the first worker to ask does it, the others wait and read its result (which must be JSON,
    and whatever files it names in `folder`). For a costly setup that module-scoped fixtures would repeat in
    every worker that runs one of the module's tests."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, holding each worker's own
    folder = root / name
    with FileLock(f"{folder}.lock"):
        done = root / f"{name}.json"
        if not done.exists():
            folder.mkdir(exist_ok=True)  # left by a worker whose `make` failed: this one tries again
            done.write_text(json.dumps(make(folder)), encoding="utf-8")
        return json.loads(done.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def site_url():
    with serve_site(SITE) as url:
        yield url


@pytest.fixture(scope="session")
def crawled(site_url, tmp_path_factory):
    """One real crawl of the whole fixture copy (all sections) into a fresh SQLite file, (url, the finished
    process). Every test of the session reads the same file, so none may write it: a test that writes takes a
    copy of its own (`crawled_copy`). The session checks at its end that the file holds what the crawl left."""
    database = tmp_path_factory.mktemp("crawl") / "cascrawl.db"
    db_url = f"sqlite:///{database}"
    sections = ",".join(sorted({e["section"] for e in expected_articles()}))
    result = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", sections, *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    crawl = _contents(database)
    yield db_url, result
    assert _contents(database) == crawl, (
        "a test wrote into the session's crawled database: a test that writes must use crawled_copy")


@pytest.fixture
def crawled_copy(crawled, tmp_path):
    """A copy of the session's crawled SQLite database for this test alone, to write into: (url, the crawl's
    finished process)."""
    source, result = crawled
    return copy_sqlite(source, tmp_path / "crawled.db"), result


def copy_sqlite(db_url: str, target: Path) -> str:
    """Copy a SQLite database to `target` with SQLite's backup API (consistent whatever sits in the write-ahead
    log); the copy's URL."""
    with closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as origin, closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)
    return f"sqlite:///{target}"


def _contents(database: Path) -> str:
    """A digest of every row of every table of a SQLite file (not of its bytes: a reader may checkpoint the log)."""
    with closing(sqlite3.connect(database)) as connection:
        return hashlib.sha256("\n".join(connection.iterdump()).encode()).hexdigest()


@pytest.hookimpl(trylast=True)  # after the terminal reporter is set up
def pytest_configure(config):
    """Session- and module-scoped fixtures (a crawl shared by a file's tests) start their children before any
    function-scoped fixture runs: they read the same wide terminal from the session's environment. pytest's
    own output keeps the real terminal's width (pinned before COLUMNS changes)."""
    if config.pluginmanager.get_plugin("terminalreporter") is not None:  # none in an xdist worker
        writer = config.get_terminal_writer()
        writer.fullwidth = writer.fullwidth
    os.environ["COLUMNS"] = "1000"


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch):
    """What the commands print for people fits the terminal's width (cascrawl.cli.common.terminal_width): tests
    of what they say read it wide, the same on any developer's terminal (in this process and in the children
    it starts). Tests of the width set COLUMNS themselves (tests/test_cli_width.py); a pseudo-terminal test
    gives its child the terminal's own size (tests/test_crawl_terminal.py)."""
    monkeypatch.setenv("COLUMNS", "1000")
