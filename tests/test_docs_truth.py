"""What the documentation quotes from the code, compared with the code, so the two cannot drift apart:
the schema's head revision, the export keys, the settings' defaults, the politeness numbers and the
inspection commands' exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import cascrawl.settings as settings
from cascrawl.db.migrate import head_revision
from cascrawl.export import EXPORT_KEYS

from .conftest import REPO, expected_articles, run_cascrawl

DOCS = REPO / "docs"
VERSIONS = REPO / "cascrawl" / "db" / "migrations" / "versions"


def lines_with(path: Path, marker: str) -> list[tuple[int, str]]:
    found = [(number, line) for number, line in enumerate(path.read_text("utf-8").splitlines(), 1) if marker in line]
    assert found, f"{path.relative_to(REPO)} has no line with {marker!r} any more: update this test"
    return found


# --- the schema revision (read from the Alembic scripts: a new migration moves it) ---

def revision_of(path: Path) -> str:
    """The revision id a migration script declares (`0004`, or `0005_<topic>` for one made in parallel)."""
    return re.search(r'^revision: str = "([^"]+)"', path.read_text("utf-8"), re.MULTILINE).group(1)


def test_the_alembic_head_is_the_newest_migration_file():
    newest = sorted(VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))[-1]
    assert head_revision() == revision_of(newest)


@pytest.mark.parametrize("doc, marker, pattern", [
    ("api.md", '"schema_revision"', r'"schema_revision": "(\w+)"'),
    ("schema.md", "this cascrawl needs", r"this cascrawl needs (\w+)"),
    ("schema.md", "the head revision:", r"the head revision: `(\w+)`"),
])
def test_the_docs_name_the_head_revision(doc, marker, pattern):
    head = head_revision()
    for number, line in lines_with(DOCS / doc, marker):
        named = re.search(pattern, line)
        assert named and named.group(1) == head, (
            f"docs/{doc} line {number} names schema revision {named.group(1) if named else '?'}, the head is {head} "
            f"(cascrawl/db/migrations/versions/): change that line to {head}:\n{line}")


def test_the_schema_doc_lists_every_migration():
    text = (DOCS / "schema.md").read_text("utf-8")
    listed = text[text.index("The schema is made and changed only"):text.index("never by hand")]
    for path in sorted(VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py")):
        revision = revision_of(path)
        assert f"`{revision}`" in listed, f"docs/schema.md, the migrations sentence, does not name {path.name}"


# --- the export contract ---

def contract_keys() -> list[tuple[str, str]]:
    table = (DOCS / "export.md").read_text("utf-8").split("| key | type | meaning |", 1)[1].split("\n\n", 1)[0]
    return [(row.split("|")[1].strip().strip("`"), row) for row in table.splitlines() if row.startswith("| `")]


def test_the_export_doc_lists_the_export_keys_in_order():
    assert [key for key, _ in contract_keys()] == list(EXPORT_KEYS)


def test_the_export_example_has_the_keys_in_order():
    example = (DOCS / "export.md").read_text("utf-8").split("```json\n", 1)[1].split("```", 1)[0]
    assert list(json.loads(example)) == list(EXPORT_KEYS)
    api_example = (DOCS / "api.md").read_text("utf-8").split("```json\n", 1)[1].split("```", 1)[0]
    assert list(json.loads(api_example)) == ["id", *EXPORT_KEYS]


def test_no_field_the_fixtures_extract_is_documented_as_never_extracted():
    extracted = {key for article in expected_articles() for key in EXPORT_KEYS if article.get(key) not in (None, [], "")}
    assert "author" in extracted  # the gold pages name authors
    for key, row in contract_keys():
        if key in extracted:
            assert "not extracted" not in row, f"docs/export.md says {key} is not extracted: {row}"


# --- settings and politeness ---
# The settings reference (docs/settings.md) is generated from cascrawl/settings.py at build time
# (scripts/docs_hooks.py, checked by tests/test_docs_site.py); what prose quotes of settings is checked here.

def doc(name: str) -> str:
    return (DOCS / name).read_text("utf-8")


def same_default(shown: str, actual) -> bool:
    """`300` shows 300.0, `""` shows an empty string, `[]` an empty list; anything else verbatim."""
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        try:
            return float(shown) == float(actual)
        except ValueError:
            return False
    if isinstance(actual, (list, dict)) or actual == "":
        try:
            return json.loads(shown) == actual
        except ValueError:
            return False
    return shown == str(actual)


def test_the_default_comparison_tells_numbers_strings_and_lists_apart():
    assert same_default("300", 300.0) and same_default("5.0", 5.0) and not same_default("30", 300.0)
    assert same_default('""', "") and same_default("[]", []) and not same_default("[]", ["x"])
    assert same_default("False", False) and not same_default("0", False) and same_default("simplified", "simplified")


def test_the_sections_default_the_docs_state_is_the_setting():
    assert f"default `{','.join(settings.CASCRAWL_SECTIONS)}`" in " ".join(doc("getting-started.md").split())


def test_the_politeness_numbers_the_docs_state_are_the_settings():
    text = " ".join(doc("crawling.md").split())
    assert f"`DOWNLOAD_DELAY = {settings.DOWNLOAD_DELAY:g}` s" in text
    assert f"(`CONCURRENT_REQUESTS_PER_DOMAIN = {settings.CONCURRENT_REQUESTS_PER_DOMAIN}`)" in text
    assert f"retries ({settings.RETRY_TIMES}) with exponential backoff" in text
    assert f"(`CASCRAWL_RETRY_BACKOFF_BASE` {settings.CASCRAWL_RETRY_BACKOFF_BASE:g} s, doubled per retry, " \
           f"at most {settings.CASCRAWL_RETRY_BACKOFF_MAX:g} s)" in text
    assert settings.ROBOTSTXT_OBEY and "robots.txt obeyed" in text
    assert f"`CASCRAWL_ALARM_MIN_PAGES` ({settings.CASCRAWL_ALARM_MIN_PAGES}) pages" in text
    assert f"`CASCRAWL_ALARM_SECTION_MIN_ENTRIES` ({settings.CASCRAWL_ALARM_SECTION_MIN_ENTRIES}) or more" in text
    assert settings.CASCRAWL_ALARM_MAX_GENERIC_SHARE == 0.5 and "`CASCRAWL_ALARM_MAX_GENERIC_SHARE` (half)" in text
    coverage = {round(value * 100) for value in settings.CASCRAWL_ALARM_MIN_COVERAGE.values()}
    assert coverage == {95} and set(settings.CASCRAWL_ALARM_MIN_COVERAGE) == {"title", "date", "body"}
    assert "(the required fields title, date, body: 95%)" in text


_UNITS = {"": 1, "s": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
# `NAME`, 100 / `NAME` (20 s / `NAME` 2 s / | `NAME` | 10 MiB |: a setting's value quoted in prose or a table.
_QUOTED_SETTING = re.compile(r"`([A-Z][A-Z0-9_]{5,})`(?:, | \(| \| | )(\d[\d,]*(?:\.\d+)?)(?: ?(s|KiB|MiB|GiB)\b)?")


def quoted_settings() -> list[tuple[str, str, float]]:
    """(file, setting, value) for every setting value the README and docs/*.md quote after its name."""
    found = []
    for path in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:  # settings.md: a marker, filled at build time
        for name, number, unit in _QUOTED_SETTING.findall(path.read_text("utf-8")):
            found.append((path.name, name, float(number.replace(",", "")) * _UNITS[unit or ""]))
    return found


def test_setting_values_quoted_in_the_docs_are_the_settings():
    from scrapy.settings import default_settings

    checked = set()
    for doc, name, value in quoted_settings():
        actual = getattr(settings, name, getattr(default_settings, name, None))
        if not isinstance(actual, (int, float)) or isinstance(actual, bool):
            continue
        assert value == actual, f"{doc} quotes {name} as {value:g}, the setting is {actual}"
        checked.add(name)
    assert {"DOWNLOAD_TIMEOUT", "DOWNLOAD_MAXSIZE", "CASCRAWL_MAX_PAGE_TAGS", "CASCRAWL_DB_BATCH_SIZE",
            "CASCRAWL_REJECT_RETRY_MAX_DAYS", "REDIRECT_MAX_TIMES"} <= checked


# --- exit codes of the inspection commands, as docs/getting-started.md lists them ---

def test_the_inspection_exit_codes_are_the_documented_ones(tmp_path):
    text = " ".join(doc("getting-started.md").split())
    assert ("Exit codes: `0` done, `1` the database cannot be used (missing file, no cascrawl tables, schema behind), "
            "`2` bad usage, `3` no such run or article.") in text
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert run_cascrawl("runs", "--db", missing).returncode == 1
    assert run_cascrawl("runs", "--limit", "zero", "--db", missing).returncode == 2
    from cascrawl.db import Database

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Database(url).open().close()  # the schema, no run, no article
    assert run_cascrawl("runs", "show", "7", "--db", url).returncode == 3
    assert run_cascrawl("articles", "show", "7", "--db", url).returncode == 3
    assert run_cascrawl("runs", "--db", url).returncode == 0
    # `db current`: 0 at head, 3 when empty (docs: "exit 0; 3 when behind or empty")
    assert "(exit `0`; `3` when behind or empty)" in text
    assert run_cascrawl("db", "current", "--db", url).returncode == 0
    import sqlite3

    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE other (x)").connection.close()
    assert run_cascrawl("db", "current", "--db", f"sqlite:///{tmp_path / 'other.db'}").returncode == 3
