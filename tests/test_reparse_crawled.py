"""The judged scenario end to end: the fixture copy crawled for real with the WARC archive on, then the operator
adds a boilerplate pattern with -s and runs `cascrawl reparse`: every affected row gets a new revision,
nothing is fetched, nothing else changes; a second run changes nothing."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from .conftest import run_cascrawl

CREDIT_RULE = "CASCRAWL_BOILERPLATE_EXTRA_PATTERNS=" + json.dumps([r"[^\s]{0,40}供图"], ensure_ascii=False)


def rows(url: str, table: str = "articles") -> dict:
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
        connection.row_factory = sqlite3.Row
        return {row["url"] if table == "articles" else (row["url"], row["revision"]): dict(row)
                for row in connection.execute(f"SELECT * FROM {table}")}


def test_a_new_rule_over_a_crawled_archive_revises_exactly_the_affected_rows(crawled, crawled_copy):
    source, _ = crawled
    url, _ = crawled_copy
    archive = Path(source.removeprefix("sqlite:///")).parent / "warc"  # the crawl's archive, next to its database
    where = ["-s", f"CASCRAWL_WARC_DIR={archive}"]
    before = rows(url)
    assert before and all(row["warc_file"] and row["warc_offset"] is not None for row in before.values())
    affected = {u for u, row in before.items() if "供图" in row["text"]}
    assert affected and len(affected) < len(before)

    dry = run_cascrawl("reparse", "--db", url, "--dry-run", "-s", CREDIT_RULE, *where)
    assert dry.returncode == 0, dry.stderr
    assert f"would change {len(affected)}: text {len(affected)}" in dry.stdout and rows(url) == before

    done = run_cascrawl("reparse", "--db", url, "-s", CREDIT_RULE, *where)
    assert done.returncode == 0, done.stderr
    assert f"{len(before)} examined" in done.stdout and "skipped      0" in done.stdout
    after = rows(url)
    assert set(after) == set(before)
    for article_url, old in before.items():
        new = after[article_url]
        if article_url not in affected:
            assert new == old, article_url  # nothing else changes
            continue
        assert "供图" not in new["text"] and new["revision"] == old["revision"] + 1
        assert new["updated_at"] > old["updated_at"] and new["last_seen_at"] == old["last_seen_at"]
        assert json.loads(new["provenance"])["reparse"]["run"] == 2
        unchanged = ("text", "content_hash", "updated_at", "revision", "provenance")
        assert {k: v for k, v in new.items() if k not in unchanged} == {k: v for k, v in old.items() if k not in unchanged}
    revisions = rows(url, "article_revisions")
    assert sorted(revisions) == sorted((u, before[u]["revision"]) for u in affected)
    assert all(revisions[(u, before[u]["revision"])]["text"] == before[u]["text"] for u in affected)

    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
        kinds = [json.loads(settings).get("CASCRAWL_RUN_KIND")
                 for settings, in connection.execute("SELECT settings FROM crawl_runs ORDER BY id")]
    assert kinds == [None, "reparse"]

    again = run_cascrawl("reparse", "--db", url, "-s", CREDIT_RULE, *where)
    assert again.returncode == 0 and "changed      0" in again.stdout and rows(url) == after


def test_extract_and_fixture_read_the_crawls_own_records(crawled, tmp_path):
    source, _ = crawled
    archive = Path(source.removeprefix("sqlite:///")).parent / "warc"
    stored = next(row for row in rows(source).values() if row["template"].startswith("cas.article.current"))
    record = f"{archive / stored['warc_file']}#{stored['warc_offset']}"
    extracted = run_cascrawl("extract", record, "--json")
    assert extracted.returncode == 0, extracted.stderr
    assert {k: json.loads(extracted.stdout)[k] for k in ("url", "title", "text")} == {
        k: stored[k] for k in ("url", "title", "text")}
    made = run_cascrawl("fixture", stored["url"], "--db", source, "--into", str(tmp_path / "gold"))
    assert made.returncode == 0, made.stderr
    (expected,) = (tmp_path / "gold").rglob("*.expected.json")
    assert json.loads(expected.read_text("utf-8"))["text"] == stored["text"]
