"""Output for people fits the terminal: at 80 columns (and in a pipe, where the width is unknown) no line of
`stats`, `articles list`, `runs`, `runs show` or a crawl's summary is wider than 80 (Chinese counted as two
columns); at 120 the tables use the room; `--json` is the same at any width."""

from __future__ import annotations

import pytest

from cascrawl.cli.common import display_width, print_table, wrap

from .test_cli_inspect import cascrawl, db  # noqa: F401 (the crawled database fixture)

COMMANDS = [["stats"], ["articles", "list"], ["runs"], ["runs", "show", "latest"], ["runs", "show", "1"],
            ["rejects"], ["search", "脑机接口"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_line_is_wider_than_80_columns(db, monkeypatch, command):  # noqa: F811
    monkeypatch.setenv("COLUMNS", "80")
    result = cascrawl(*command, "--db", db)
    assert result.returncode == 0, result.stderr
    # a path or URL longer than a line is the one thing left whole (to be copied), e.g. the log file's
    lines = [line for line in result.stdout.splitlines() if not display_width(line.split()[-1] if line.split() else "") > 50]
    widest = max(lines, key=display_width)
    assert display_width(widest) <= 80, widest


@pytest.mark.parametrize("command", [["stats"], ["articles", "list"], ["runs"]], ids=" ".join)
def test_a_wider_terminal_shows_more(db, monkeypatch, command):  # noqa: F811
    monkeypatch.setenv("COLUMNS", "80")
    narrow = cascrawl(*command, "--db", db).stdout
    monkeypatch.setenv("COLUMNS", "120")
    wide = cascrawl(*command, "--db", db).stdout
    assert max(map(display_width, wide.splitlines())) <= 120
    assert narrow.count("…") > wide.count("…") or len(wide.splitlines()[0]) > len(narrow.splitlines()[0])


@pytest.mark.parametrize("command", [["stats"], ["articles", "list"], ["runs"], ["runs", "show", "latest"]],
                         ids=" ".join)
def test_json_does_not_depend_on_the_width(db, monkeypatch, command):  # noqa: F811
    monkeypatch.setenv("COLUMNS", "80")
    narrow = cascrawl(*command, "--json", "--db", db).stdout
    monkeypatch.setenv("COLUMNS", "120")
    assert cascrawl(*command, "--json", "--db", db).stdout == narrow


def test_a_table_cuts_its_flexible_column_and_drops_columns_in_order(capsys):
    rows = [[1, "科研进展" * 12, "2025-06-14 16:30", "x"], [22, "short", "2025-06-15 08:00", "y"]]
    print_table(["id", "title", "changed", "z"], rows, numeric={0}, flexible={1: 20}, drop=[2], width=50)
    lines = capsys.readouterr().out.splitlines()
    assert all(display_width(line) <= 50 for line in lines)
    assert lines[0].split() == ["id", "title", "changed", "z"] and "…" in lines[1] and lines[1].startswith(" 1  科研")
    print_table(["id", "title", "changed", "z"], rows, numeric={0}, flexible={1: 20}, drop=[2], width=30)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "title", "z"] and all(display_width(line) <= 30 for line in lines)
    print_table(["id", "title", "changed", "z"], rows, numeric={0}, flexible={1: 20}, drop=[2], width=200)
    assert "科研进展" * 12 in capsys.readouterr().out  # room: nothing cut


def test_summary_lines_wrap_at_word_boundaries_never_mid_word():
    line = "articles: 5 new, 0 updated, 0 unchanged, 0 not modified (304); 404 articles stored, 0 rejected"
    wrapped = wrap(line, 40, indent="    ").splitlines()
    assert all(display_width(part) <= 40 for part in wrapped)
    assert " ".join(part.strip() for part in wrapped) == line  # every word whole, none split
    assert wrapped[1].startswith("    ")
    chinese = "sections 党建与创新文化·工作动态 党建与创新文化·文明建设 科研进展"
    assert all(display_width(part) <= 20 for part in wrap(chinese, 20).splitlines())
    assert wrap("short line", 80) == "short line"
    path = "/srv/cascrawl/logs/" + "x" * 90 + ".log"
    assert wrap(f"database: {path} and more", 80).splitlines() == [f"database: {path}", "  and more"]  # whole
