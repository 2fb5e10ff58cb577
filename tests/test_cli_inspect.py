"""The inspection commands (`runs`, `articles`, `search`, `rejects`, `stats`, `export`) on a crawled
SQLite database.

Each command goes through `cascrawl.cli.main` with its real arguments, in this process (a child
process per call would cost a second of imports each); the terminal behaviour of `export` and one
command of each kind are also run as the real `cascrawl` program in a child process.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pty
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from cascrawl.cli import main
from cascrawl.db import Database

from .api_support import crawled_database, made_up_article, upsert
from .conftest import REPO, expected_articles, run_cascrawl

ARTICLES = expected_articles()


@pytest.fixture
def db(request, tmp_path) -> str:
    """The crawl of the fixture copy, plus a second, failed run with two rejects."""
    url = crawled_database("sqlite", request, tmp_path)
    database = Database(url)
    try:
        run_id = database.start_run(base_url="https://www.cas.cn", sections=["yw", "nosuch"], settings={"X": 1})
        now = datetime.now(timezone.utc)
        database.add_rejects([
            {"url": "https://www.cas.cn/yw/202501/t20250101_1.shtml", "reason": "http_404", "detail": None, "seen_at": now},
            {"url": "https://www.cas.cn/yw/202501/t20250102_2.shtml", "reason": "missing_title", "detail": "no <h1>",
             "seen_at": now},
        ], run_id=run_id)
        database.finish_run(run_id, status="failed", reason="database error: disk full",
                            stats={"cascrawl/sections_missing": 1, "cascrawl/listing_pages": 3})
    finally:
        database.close()
    return url


def cascrawl(*args: str) -> subprocess.CompletedProcess:
    """`cascrawl ARGS` in this process: exit code, standard output and error as text."""
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse: usage errors
            code = exit.code
    texts = []
    for stream in (stdout, stderr):
        stream.flush()
        texts.append(stream.buffer.getvalue().decode("utf-8"))
    return subprocess.CompletedProcess(["cascrawl", *args], code, *texts)


def json_of(*args: str):
    result = cascrawl(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_runs_lists_the_newest_first_with_counts_and_problems(db, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # room for every problem in full (80 columns: tests/test_cli_width.py)
    result = cascrawl("runs", "--db", db)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["run", "status", "started"]
    assert lines[1].split()[:2] == ["2", "failed"] and "status failed: database error: disk full" in lines[1]
    assert lines[2].split()[:2] == ["1", "finished"] and str(len(ARTICLES)) in lines[2].split()
    runs = json_of("runs", "--db", db)
    assert [run["id"] for run in runs] == [2, 1]
    assert runs[0]["counts"]["rejects"] == 2 and runs[1]["counts"]["articles_stored"] == len(ARTICLES)
    assert [run["id"] for run in json_of("runs", "--limit", "1", "--db", db)] == [2]


def expected_coverage() -> dict:
    """The coverage of a crawl of the fixture copy, from the expected fields of its articles."""
    pages = len(ARTICLES)
    return {"pages": pages, "title": 1.0, "date": 1.0, "body": 1.0,
            "source": round(sum(1 for a in ARTICLES if a["source"]) / pages, 4),
            "generic_fallback": round(sum(1 for a in ARTICLES if a["template"] == "generic") / pages, 4)}


EXPECTED_COVERAGE_LINE = (f"title 100%, date 100%, body 100%, source {expected_coverage()['source']:.0%}, "
                          f"generic fallback {expected_coverage()['generic_fallback']:.0%} of {len(ARTICLES)} article pages")


def test_a_run_records_its_coverage_and_runs_show_says_it(db):
    recorded = Database(db)
    try:
        assert recorded.get_run(1)["coverage"] == expected_coverage()  # the column, as the crawl wrote it
    finally:
        recorded.close()
    assert json_of("runs", "show", "1", "--db", db)["coverage"] == expected_coverage()
    assert json_of("runs", "show", "2", "--db", db)["coverage"] is None


def test_runs_show_tells_why_a_run_is_degraded(db, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # each line whole (80 columns: tests/test_cli_width.py)
    result = cascrawl("runs", "show", "2", "--db", db)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("run 2: failed (database error: disk full)")
    assert "problems:\n  - status failed: database error: disk full\n  - 1 section(s) answered 404" in out
    assert "rejects by reason: http_404 1, missing_title 1" in out and "t20250102_2.shtml" in out
    assert "coverage  no article page extracted" in out
    clean = cascrawl("runs", "show", "1", "--db", db)
    assert "problems: none" in clean.stdout and "finish_reason: finished" in clean.stdout
    assert f"coverage  {EXPECTED_COVERAGE_LINE}\n" in clean.stdout
    detail = json_of("runs", "show", "latest", "--db", db)
    assert detail["id"] == 2 and detail["rejects_by_reason"] == {"http_404": 1, "missing_title": 1}
    assert detail["settings"] == {"X": 1} and detail["problems"][1] == "1 section(s) answered 404"


def test_runs_show_exit_codes(db):
    missing = cascrawl("runs", "show", "99", "--db", db)
    assert missing.returncode == 3 and "no run with id 99" in missing.stderr
    bad = cascrawl("runs", "show", "first", "--db", db)
    assert bad.returncode == 2 and "expected a run id or `latest`" in bad.stderr


def test_articles_list_filters_and_limits(db):
    everything = json_of("articles", "list", "--limit", "100", "--db", db)
    assert sorted(a["url"] for a in everything) == sorted(a["url"] for a in ARTICLES)
    assert list(everything[0])[:3] == ["id", "url", "section"]
    syky = json_of("articles", "list", "--section", "syky", "--db", db)
    assert sorted(a["url"] for a in syky) == sorted(a["url"] for a in ARTICLES if a["section"] == "syky")
    assert len(json_of("articles", "list", "--limit", "3", "--db", db)) == 3
    upsert(db, [made_up_article(1)])
    newest = json_of("articles", "list", "--limit", "1", "--db", db)
    assert newest[0]["url"] == made_up_article(1)["url"]  # newest change first
    today = datetime.now(timezone.utc).astimezone().date().isoformat()
    assert len(json_of("articles", "list", "--since", today, "--limit", "100", "--db", db)) >= len(ARTICLES)
    assert json_of("articles", "list", "--until", "2020-01-01", "--db", db) == []
    table = cascrawl("articles", "list", "--section", "syky", "--db", db)
    assert table.returncode == 0 and table.stdout.splitlines()[0].split() == [
        "id", "published", "section", "rev", "changed", "(Beijing)", "title"]
    assert f"of {len(syky) + 1} article(s)" in table.stderr  # the made-up one is in syky too
    titles = [a["title"] for a in ARTICLES if a["section"] == "syky"]
    assert any(title[:10] in table.stdout for title in titles)


def test_articles_list_refuses_a_bad_date(db):
    result = cascrawl("articles", "list", "--since", "last week", "--db", db)
    assert result.returncode == 2 and "--since: expected a date like 2025-06-14" in result.stderr


def test_articles_show_by_id_and_by_url(db):
    expected = next(a for a in ARTICLES if a["source"])
    by_url = json_of("articles", "show", expected["url"], "--db", db)
    assert by_url["title"] == expected["title"] and by_url["text"] == expected["text"]
    assert by_url["revision"] == 1 and by_url["revisions"] == [] and by_url["provenance"]
    assert json_of("articles", "show", str(by_url["id"]), "--db", db) == by_url
    by_fetched = json_of("articles", "show", by_url["fetched_url"], "--db", db)
    assert by_fetched["id"] == by_url["id"]
    human = cascrawl("articles", "show", str(by_url["id"]), "--db", db)
    assert human.returncode == 0
    assert human.stdout.startswith(f"#{by_url['id']}  {expected['title']}\n")
    assert f"source       {expected['source']}" in human.stdout and "provenance:\n  " in human.stdout
    assert "revisions: none (first version)" in human.stdout
    assert expected["text"].splitlines()[0] in human.stdout
    assert expected["text"].splitlines()[0] not in cascrawl("articles", "show", str(by_url["id"]), "--no-text",
                                                             "--db", db).stdout


def test_articles_show_lists_revisions(db):
    first = made_up_article(1)
    upsert(db, [first])
    upsert(db, [made_up_article(1, text="改过的正文。")])
    shown = json_of("articles", "show", first["url"], "--db", db)
    assert shown["revision"] == 2 and shown["text"] == "改过的正文。"
    assert [(r["revision"], r["content_hash"]) for r in shown["revisions"]] == [(1, first["content_hash"])]
    human = cascrawl("articles", "show", first["url"], "--db", db).stdout
    assert f"  r1  arrived " in human and first["content_hash"][:12] in human


def test_articles_show_not_found(db):
    result = cascrawl("articles", "show", "https://www.cas.cn/yw/none.shtml", "--db", db)
    assert result.returncode == 3 and "no article at https://www.cas.cn/yw/none.shtml" in result.stderr
    assert cascrawl("articles", "show", "99999", "--db", db).returncode == 3


def test_search_is_the_store_search(db):
    database = Database(db)
    try:
        expected = database.search("脑机接口")
    finally:
        database.close()
    assert expected
    hits = json_of("search", "脑机接口", "--db", db)
    assert [hit["url"] for hit in hits] == [hit["url"] for hit in expected]
    human = cascrawl("search", "脑机接口", "--db", db)
    assert human.returncode == 0 and expected[0]["title"] in human.stdout and expected[0]["url"] in human.stdout
    assert f"{len(expected)} article(s) found" in human.stderr
    assert json_of("search", "没有", "这种", "组合", "--db", db) == []


def test_rejects_by_run_and_reason(db):
    everything = json_of("rejects", "--db", db)
    assert [r["reason"] for r in everything] == ["missing_title", "http_404"]  # newest first (same time: id)
    assert [r["reason"] for r in json_of("rejects", "--run", "latest", "--reason", "http_404", "--db", db)] == ["http_404"]
    assert json_of("rejects", "--run", "1", "--db", db) == []
    table = cascrawl("rejects", "--run", "2", "--db", db)
    assert table.returncode == 0 and "missing_title" in table.stdout and "no <h1>" in table.stdout
    assert cascrawl("rejects", "--run", "9", "--db", db).returncode == 3


def test_stats_per_section(db):
    stats = json_of("stats", "--db", db)
    by_section = {row["section"]: row for row in stats["sections"]}
    for section in {a["section"] for a in ARTICLES}:
        mine = [a for a in ARTICLES if a["section"] == section]
        assert by_section[section]["articles"] == len(mine)
        assert by_section[section]["newest_published_date"] == max(a["published_date"] for a in mine)
    # nosuch was crawled by the failed run only: listed, with no article, its last run the failed one
    assert by_section["nosuch"]["articles"] == 0 and by_section["nosuch"]["last_run"]["status"] == "failed"
    assert stats["totals"] == {"articles": len(ARTICLES), "revisions": 0, "runs": 2, "rejects": 2}
    human = cascrawl("stats", "--db", db).stdout
    assert human.splitlines()[0].split()[:4] == ["section", "name", "articles", "newest"]
    assert "科研进展" in human and f"{len(ARTICLES)} articles, 0 earlier revisions, 2 runs, 2 rejects" in human


@pytest.mark.parametrize("command", [["runs"], ["runs", "show", "1"], ["articles", "list"], ["articles", "show", "1"],
                                     ["search", "科学"], ["rejects"], ["stats"], ["export"], ["serve"]])
def test_a_missing_database_is_an_error_not_an_empty_answer(tmp_path, command):
    target = tmp_path / "absent.db"
    result = cascrawl(*command, "--db", f"sqlite:///{target}")
    assert result.returncode == 1 and "cascrawl: error: no database file" in result.stderr
    assert not target.exists()


def test_export_csv_has_the_fields_of_the_jsonl(db):
    jsonl = cascrawl("export", "--db", db)
    as_csv = cascrawl("export", "--format", "csv", "--db", db)
    assert jsonl.returncode == as_csv.returncode == 0
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout, newline="")))
    assert len(rows) == len(records) == len(ARTICLES)
    for row, record in zip(rows, records):
        assert list(row) == [*record, "withdrawn_at"]  # the CSV's last column: set on a tombstone's row only
        assert row["withdrawn_at"] == ""
        for key, value in record.items():
            if isinstance(value, list):
                assert json.loads(row[key]) == value
            else:
                assert row[key] == ("" if value is None else value), key


def test_export_since_a_cursor_gives_only_what_changed_after(db, tmp_path):
    first = cascrawl("export", "--db", db, "--output", str(tmp_path / "all.jsonl"))
    assert first.returncode == 0
    assert f"exported {len(ARTICLES)} articles to" in first.stderr
    cursor = first.stderr.split("--since ")[1].split()[0]
    nothing = cascrawl("export", "--db", db, "--since", cursor)
    assert nothing.returncode == 0 and nothing.stdout == ""
    upsert(db, [made_up_article(1), made_up_article(2)])
    later = cascrawl("export", "--db", db, "--since", cursor, "--output", str(tmp_path / "later.jsonl"))
    urls = [json.loads(line)["url"] for line in (tmp_path / "later.jsonl").read_text("utf-8").splitlines()]
    assert urls == [made_up_article(1)["url"], made_up_article(2)["url"]]
    following = later.stderr.split("--since ")[1].split()[0]
    assert following != cursor
    assert cascrawl("export", "--db", db, "--since", following).stdout == ""
    bad = cascrawl("export", "--db", db, "--since", "nonsense")
    assert bad.returncode == 2 and "not a cursor this service handed out" in bad.stderr


def _export_with_stderr_on_a_terminal(db: str, *args: str) -> tuple[int, str, bytes]:
    """`cascrawl export` with stdout to a pipe and stderr on a pseudo-terminal: (exit code, stdout, terminal bytes)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "cascrawl", "export", "--db", db, *args], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=follower, env=os.environ.copy())
    os.close(follower)
    stdout = process.stdout.read()
    process.wait(timeout=120)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    return process.returncode, stdout.decode("utf-8"), seen


def test_export_shows_a_counter_on_a_terminal_and_nothing_when_piped(db):
    upsert(db, [made_up_article(n) for n in range(1500)])  # enough to take a few tenths of a second
    code, stdout, terminal = _export_with_stderr_on_a_terminal(db)
    assert code == 0 and len(stdout.splitlines()) == len(ARTICLES) + 1500
    assert b"\rexported " in terminal and b" articles \xe2\x80\xa6" in terminal  # the live counter
    assert f"exported {len(ARTICLES) + 1500} articles; next time: --since ".encode() in terminal
    piped = run_cascrawl("export", "--db", db)  # stderr is a pipe here
    assert piped.returncode == 0 and len(piped.stdout.splitlines()) == len(ARTICLES) + 1500
    # no counter in a pipe, but the one line with the cursor, as for cron and `export > file`
    assert piped.stderr.startswith(f"exported {len(ARTICLES) + 1500} articles; next time: --since ")
    assert len(piped.stderr.splitlines()) == 1


def test_export_writes_its_cursor_to_the_cursor_file(db, tmp_path):
    cursor_file = tmp_path / "cursor"
    first = cascrawl("export", "--db", db, "--cursor-file", str(cursor_file))
    assert first.returncode == 0 and len(first.stdout.splitlines()) == len(ARTICLES)
    cursor = cursor_file.read_text("utf-8").strip()
    assert first.stderr.strip() == f"exported {len(ARTICLES)} articles; next time: --since {cursor}"
    upsert(db, [made_up_article(3)])
    later = cascrawl("export", "--db", db, "--since", cursor, "--cursor-file", str(cursor_file))
    assert [json.loads(line)["url"] for line in later.stdout.splitlines()] == [made_up_article(3)["url"]]
    assert cursor_file.read_text("utf-8").strip() != cursor  # moved past the new article


@pytest.mark.parametrize("command", [["runs"], ["articles", "show", "1"], ["stats"], ["search", "脑机接口"]])
def test_the_installed_program_answers_as_main_does(db, command):
    child = run_cascrawl(*command, "--db", db)
    here = cascrawl(*command, "--db", db)
    assert (child.returncode, child.stdout, child.stderr) == (here.returncode, here.stdout, here.stderr)
    assert child.returncode == 0 and child.stdout


PROGRAM = ".venv/bin/cascrawl "  # how the docs write the program: it works as typed from the repository root


def block_commands(path, marker: str) -> list[str]:
    """The lines of a documented block of commands (after `marker`), comments off."""
    text = path.read_text("utf-8")
    block = text.split(marker)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def as_demo_database(db: str, directory) -> None:
    """The crawled database as ./cascrawl-demo.db of `directory`, the file `make demo` writes."""
    import shutil

    shutil.copyfile(db.removeprefix("sqlite:///"), directory / "cascrawl-demo.db")


def test_every_command_of_the_readme_tour_works_as_typed(db, tmp_path, monkeypatch):
    import shlex

    from cascrawl.cli import _build_parser

    as_demo_database(db, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CASCRAWL_DATABASE_URL", raising=False)
    commands = block_commands(REPO / "README.md", "<!-- readme-tour")
    assert len(commands) == 5 and all(command.startswith(PROGRAM) for command in commands)
    for command in commands:
        args = shlex.split(command.removeprefix(PROGRAM))
        if args[0] == "serve":  # serves until stopped: its arguments must parse (tests/test_api_server.py serves)
            assert _build_parser().parse_args(args).db == "cascrawl-demo.db"
            continue
        result = cascrawl(*args)
        assert result.returncode == 0 and result.stdout.strip(), (command, result.stderr)
        assert "Traceback" not in result.stderr


def test_every_command_of_the_docs_block_runs_as_documented(db, tmp_path, monkeypatch):
    import shlex

    as_demo_database(db, tmp_path)
    db = "sqlite:///cascrawl-demo.db"
    monkeypatch.delenv("CASCRAWL_DATABASE_URL", raising=False)  # the commands name their --db
    monkeypatch.chdir(tmp_path)
    commands = block_commands(REPO / "docs" / "getting-started.md", "<!-- docs-commands")
    assert len(commands) >= 10 and all(command.startswith(PROGRAM) for command in commands)
    cursor = None
    for command in commands:
        args = shlex.split(command.removeprefix(PROGRAM))
        if "CURSOR" in args:
            assert cursor, "the docs show --since CURSOR before any export printed one"
            upsert(db, [made_up_article(7)])
            args = [cursor if arg == "CURSOR" else arg for arg in args]
        result = cascrawl(*args)
        assert result.returncode == 0, (command, result.stderr)
        if "--output" in args:
            written = tmp_path / args[args.index("--output") + 1]
            assert written.stat().st_size > 0, command
            if "next time: --since " in result.stderr:
                cursor = result.stderr.split("next time: --since ")[1].split()[0]
        else:
            assert result.stdout.strip(), command
        if "--since" in args and args[args.index("--since") + 1] == cursor:
            assert [json.loads(line)["url"] for line in result.stdout.splitlines()] == [made_up_article(7)["url"]]
        else:
            check = next((check for prefix, check in DOCS_CLAIMS.items()
                          if command.removeprefix(PROGRAM).startswith(prefix)), None)
            assert check is not None, f"no check of what this documented command claims: {command}"
            check(args, result, db, tmp_path)


def _json_too(args: list[str], db: str):
    """The same command with --json (same selection, for scripts)."""
    result = cascrawl(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _claims_stats(args, result, db, tmp_path):
    sections = {a["section"] for a in ARTICLES}
    table = {line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()}
    assert sections <= table  # per section
    rows = {row["section"]: row for row in _json_too(args, db)["sections"]}
    assert all(rows[s]["articles"] == sum(a["section"] == s for a in ARTICLES) for s in sections)


def _claims_runs(args, result, db, tmp_path):
    runs = _json_too(args, db)
    assert [run["id"] for run in runs] == [2, 1] and len(runs) <= 5  # the latest runs, newest first
    assert [run["status"] for run in runs] == ["failed", "finished"]


def _claims_run_show(args, result, db, tmp_path):
    assert result.stdout.startswith("run 2: failed (database error: disk full)")  # the latest run
    assert "problems:\n  - status failed" in result.stdout and "rejects by reason:" in result.stdout


def _claims_rejects(args, result, db, tmp_path):
    assert sorted(r["reason"] for r in _json_too(args, db)) == ["http_404", "missing_title"]  # of the latest run
    assert "t20250101_1.shtml" in result.stdout and "t20250102_2.shtml" in result.stdout


def _claims_articles_list(args, result, db, tmp_path):
    listed = _json_too(args, db)
    syky = [a for a in ARTICLES if a["section"] == "syky"]
    assert 0 < len(listed) == min(10, len(syky)) and {a["section"] for a in listed} == {"syky"}
    changes = [a["updated_at"] for a in listed]
    assert changes == sorted(changes, reverse=True)  # newest change first


def _claims_article_show(args, result, db, tmp_path):
    shown = _json_too(args, db)
    key = args[2]
    assert (shown["id"] == int(key)) if key.isdigit() else (shown["url"] == key)
    assert {"provenance", "revisions", "text", "revision"} <= set(shown)  # fields, provenance, revisions, text
    assert shown["title"] in result.stdout and shown["text"].split("\n")[0][:20] in result.stdout


def _claims_search(args, result, db, tmp_path):
    options = args.index("--db") if "--db" in args else len(args)
    words = [arg for arg in args[1:options] if not arg.startswith("--")]
    containing = {a["url"] for a in ARTICLES if all(w in a["title"] or w in a["text"] for w in words)}
    assert containing and {hit["url"] for hit in _json_too(args, db)} == containing


def _claims_export(args, result, db, tmp_path):
    written = (tmp_path / args[args.index("--output") + 1]).read_text("utf-8")
    if "csv" in args:
        import csv

        assert len(list(csv.DictReader(io.StringIO(written)))) == len(ARTICLES)
    else:
        assert len(written.splitlines()) == len(ARTICLES)
        assert f"exported {len(ARTICLES)} articles to {args[args.index('--output') + 1]}; next time: --since " \
            in result.stderr


DOCS_CLAIMS = {
    "stats": _claims_stats,
    "runs --limit": _claims_runs,
    "runs show latest": _claims_run_show,
    "rejects --run latest": _claims_rejects,
    "articles list": _claims_articles_list,
    "articles show": _claims_article_show,
    "search": _claims_search,
    "export --format csv --output": _claims_export,
    "export --output": _claims_export,
}


PIPED_COMMANDS = [["articles", "list"], ["articles", "show", "1"], ["runs"], ["runs", "show", "latest"], ["stats"],
                  ["rejects"], ["search", "脑机接口"], ["db", "search", "脑机接口"], ["export"],
                  ["export", "--format", "csv"], ["runs", "--json"], ["articles", "list", "--json"]]


@pytest.mark.parametrize("command", PIPED_COMMANDS, ids=" ".join)
def test_a_reader_that_closes_the_pipe_early_is_not_an_error(db, command):
    """`cascrawl articles list | head -5`, with the reader gone before the first line: exit 0, no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has left: every write to the pipe fails (EPIPE)
    try:
        child = subprocess.run([sys.executable, "-m", "cascrawl", *command, "--db", db], stdout=write_end,
                               stderr=subprocess.PIPE, text=True, timeout=120, cwd=REPO)
    finally:
        os.close(write_end)
    assert child.returncode == 0, child.stderr
    assert "Traceback" not in child.stderr and "BrokenPipe" not in child.stderr and "Exception ignored" not in child.stderr
