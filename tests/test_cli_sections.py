"""Errors that say what to do: `--section` takes known slugs (or `all`) and names the closest ones for a typo,
`--db` takes a plain file path as that SQLite file, and a command's bad argument shows that command's usage."""

from __future__ import annotations

import pytest

from cascrawl.sections import DEFAULT_SECTIONS, SECTIONS, crawl_sections

from .conftest import run_cascrawl
from .test_cli_inspect import cascrawl


def test_known_sections_are_taken_in_order_and_all_means_every_known_section():
    assert crawl_sections(["syky,yw", "djcx/gz/"]) == ["syky", "yw", "djcx/gz"]
    assert crawl_sections(["all"]) == list(SECTIONS)
    assert crawl_sections(["yw", "all"]) == list(SECTIONS)
    assert crawl_sections([","]) == list(DEFAULT_SECTIONS)


def test_an_unknown_section_names_the_closest_known_ones():
    with pytest.raises(ValueError) as refused:
        crawl_sections(["yw,sykyy"])
    message = str(refused.value)
    assert message.startswith("unknown section 'sykyy' (did you mean syky")
    assert "known sections: yw, sygz" in message and message.endswith(", or all")
    with pytest.raises(ValueError, match=r"unknown section 'zzzzzzzz'; known sections"):  # nothing close
        crawl_sections(["zzzzzzzz"])


def test_a_crawl_with_an_unknown_section_stops_before_fetching_with_exit_2(tmp_path):
    database = tmp_path / "never.db"
    result = run_cascrawl("crawl", "--section", "yw,sykyy", "--db", str(database), "--base-url", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: cascrawl crawl ")  # the command's usage, not the top level's
    assert "cascrawl crawl: error: --section: unknown section 'sykyy' (did you mean syky" in result.stderr
    assert not database.exists() and "Traceback" not in result.stderr


def test_a_plain_path_for_db_is_that_sqlite_file(tmp_path, monkeypatch):
    from cascrawl.cli.common import as_database_url
    from cascrawl.db import Database

    assert as_database_url("cascrawl-demo.db") == "sqlite:///cascrawl-demo.db"
    assert as_database_url("/srv/x.db") == "sqlite:////srv/x.db"
    assert as_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.chdir(tmp_path)
    Database("sqlite:///here.db").open().close()
    for given in ["here.db", str(tmp_path / "here.db")]:
        result = cascrawl("stats", "--db", given)
        assert result.returncode == 0, result.stderr
        assert "0 articles" in result.stdout
    missing = cascrawl("runs", "--db", "absent.db")
    assert missing.returncode == 1 and "absent.db" in missing.stderr and not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize("command, usage", [
    (["articles", "list", "--since", "last week"], "usage: cascrawl articles list "),
    (["runs", "show", "first"], "usage: cascrawl runs show "),
    (["rejects", "--run", "some"], "usage: cascrawl rejects "),
    (["export", "--since", "not-a-cursor"], "usage: cascrawl export "),
])
def test_a_bad_argument_shows_the_usage_of_its_own_command(tmp_path, command, usage):
    result = cascrawl(*command, "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    assert result.stderr.startswith(usage), result.stderr
