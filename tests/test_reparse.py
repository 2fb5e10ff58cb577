"""`cascrawl reparse` in this process: stored articles re-extracted from a real WARC archive (written by warcio)
into a real SQLite database, with today's code and a changed setting; what is written, and what is not."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import cascrawl
from cascrawl import stats_keys
from cascrawl.db import Article, ArticleRevision, CrawlRun, Database, RunLock, RunLocked
from cascrawl.db.reparse import Selection
from cascrawl.reparse import RUN_KIND, RUN_KIND_SETTING, Options, Reparse
from cascrawl.reparse import run as reparse_run
from tests.support.archived import Page, fixture_pages, store_archived, write_warc

from .conftest import SITE, copy_sqlite
from .db_backends import db_url, postgres_server  # noqa: F401

# The operator's new rule: a photo credit line (…研究团队供图) is boilerplate. Three fixture articles have one.
CREDIT_RULE = {"CASCRAWL_BOILERPLATE_EXTRA_PATTERNS": json.dumps([r"[^\s]{0,40}供图"], ensure_ascii=False)}
STORED_AT = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def stored_once(tmp_path_factory):
    """The fixture copy's article pages archived and stored as a crawl stores them, once for the module."""
    folder = tmp_path_factory.mktemp("archived")
    url = f"sqlite:///{folder / 'cas.db'}"
    rows = store_archived(url, folder / "warc", fixture_pages(SITE), seen_at=STORED_AT)
    return url, folder / "warc", rows


@pytest.fixture
def archive_db(stored_once, tmp_path):
    """A copy of that database of this test's own (the archive is only read)."""
    url, archive, rows = stored_once
    return copy_sqlite(url, tmp_path / "cas.db"), archive, rows


def reparse(url: str, archive: Path | None, **options) -> reparse_run.Report:
    options.setdefault("processes", 1)
    return Reparse(Options(database_url=url, archive=archive, heartbeat_seconds=0, **options)).run()


def articles(url: str) -> dict[str, dict]:
    database = Database(url).open(create=False)
    try:
        with Session(database.engine) as session:
            return {row.url: {c.key: getattr(row, c.key) for c in Article.__table__.columns}
                    for row in session.scalars(select(Article))}
    finally:
        database.close()


def revisions(url: str) -> list[tuple[str, int]]:
    database = Database(url).open(create=False)
    try:
        with Session(database.engine) as session:
            return sorted(session.execute(select(ArticleRevision.url, ArticleRevision.revision)).all())
    finally:
        database.close()


def runs(url: str) -> list[CrawlRun]:
    database = Database(url).open(create=False)
    try:
        with Session(database.engine) as session:
            return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    finally:
        database.close()


def test_todays_code_on_unchanged_rules_changes_nothing_and_records_a_reparse_run(archive_db):
    url, archive, rows = archive_db
    before = articles(url)
    report = reparse(url, archive)
    assert report.status == "finished" and report.exit_code == 0, report.problems
    assert report.examined == len(before) == len(rows)
    assert report.stats[stats_keys.REPARSE_UNCHANGED] == len(before) and not report.stats[stats_keys.REPARSE_CHANGED]
    assert articles(url) == before  # not even last_seen_at moved
    assert revisions(url) == []
    (run,) = runs(url)
    assert run.settings[RUN_KIND_SETTING] == RUN_KIND and run.status == "finished"
    assert run.stats[stats_keys.REPARSE_EXAMINED] == len(before) and run.stats[stats_keys.VERDICT_PROBLEMS] == []


def test_a_new_boilerplate_rule_revises_exactly_the_affected_rows(db_url, tmp_path):  # noqa: F811
    url, archive = db_url, tmp_path / "warc"
    store_archived(url, archive, fixture_pages(SITE), seen_at=STORED_AT)
    before = articles(url)
    affected = {u for u, row in before.items() if "供图" in row["text"]}
    assert len(affected) >= 2  # the scenario needs articles with and without the credit line

    report = reparse(url, archive, overrides=CREDIT_RULE)
    after = articles(url)
    assert report.status == "finished", report.problems
    assert report.stats[stats_keys.REPARSE_CHANGED] == len(affected)
    assert report.stats[stats_keys.reparse_changed("text")] == len(affected)
    assert report.stats[stats_keys.ARTICLES_REVISED] == len(affected)
    assert revisions(url) == sorted((u, 1) for u in affected)  # the old version archived, once each
    for article_url, old in before.items():
        new = after[article_url]
        if article_url not in affected:
            assert new == old
            continue
        assert "供图" not in new["text"] and new["revision"] == 2
        assert new["updated_at"] > old["updated_at"]  # the change cursor moved …
        assert new["last_seen_at"] == old["last_seen_at"]  # … but nothing was fetched
        assert new["provenance"]["reparse"] == {"cascrawl": cascrawl.__version__, "run": report.run_id}
        assert (new["warc_file"], new["warc_offset"]) == (old["warc_file"], old["warc_offset"])
        assert {k: v for k, v in new.items() if k not in ("text", "content_hash", "updated_at", "revision",
                                                          "provenance")} \
            == {k: v for k, v in old.items() if k not in ("text", "content_hash", "updated_at", "revision",
                                                          "provenance")}

    again = reparse(url, archive, overrides=CREDIT_RULE)  # the same rule again: nothing left to change
    assert again.stats[stats_keys.REPARSE_CHANGED] == 0 and again.stats[stats_keys.REPARSE_UNCHANGED] == len(before)
    assert articles(url) == after


def test_dry_run_writes_nothing_and_counts_by_field_and_template_with_a_diff(archive_db, capsys):
    from cascrawl.cli.reparse import print_report

    url, archive, _ = archive_db
    before = articles(url)
    options = Options(database_url=url, archive=archive, overrides=CREDIT_RULE, processes=1, dry_run=True,
                      heartbeat_seconds=0)
    report = Reparse(options).run()
    assert articles(url) == before and runs(url) == [] and revisions(url) == []
    affected = [row for row in before.values() if "供图" in row["text"]]
    assert report.by_prefix(stats_keys.reparse_changed("")) == {"text": len(affected)}
    templates = {}
    for row in affected:
        templates[row["template"]] = templates.get(row["template"], 0) + 1
    assert {k.removesuffix("/changed"): v for k, v in report.by_prefix(stats_keys.REPARSE_TEMPLATES).items()} == templates
    print_report(report, options, "the test database")
    shown = capsys.readouterr().out
    assert f"would change {len(affected)}: text {len(affected)}" in shown
    assert "--- text (stored)" in shown and "+++ text (today)" in shown
    assert any(f"-{line}" in shown for row in affected for line in row["text"].splitlines() if "供图" in line)


def test_the_filters_select_by_section_published_date_and_template(archive_db):
    url, archive, _ = archive_db
    stored = articles(url)
    syky = [row for row in stored.values() if row["section"] == "syky"]
    assert reparse(url, archive, selection=Selection(sections=("syky",)), dry_run=True).examined == len(syky)
    day = sorted(row["published_date"] for row in stored.values())[len(stored) // 2]
    later = [row for row in stored.values() if row["published_date"] >= day]
    assert reparse(url, archive, selection=Selection(since=day), dry_run=True).examined == len(later)
    assert reparse(url, archive, selection=Selection(until=day - timedelta(days=1)),
                   dry_run=True).examined == len(stored) - len(later)
    current = [row for row in stored.values() if row["template"].startswith("cas.article.current@")]
    assert reparse(url, archive, selection=Selection(template="cas.article.current"), dry_run=True).examined == len(current)
    assert reparse(url, archive, selection=Selection(template=current[0]["template"]), dry_run=True).examined == len(current)
    assert reparse(url, archive, selection=Selection(template="cas.article"), dry_run=True).examined == 0


def test_rows_without_a_readable_record_are_skipped_by_reason_and_named_problems(tmp_path):
    url = f"sqlite:///{tmp_path / 'cas.db'}"
    archive = tmp_path / "warc"
    pages = fixture_pages(SITE)[:4]
    store_archived(url, archive, pages[:1], name="kept.warc.gz")
    store_archived(url, archive, pages[1:2], name="pruned.warc.gz")
    (archive / "pruned.warc.gz").unlink()  # an operator pruned the file
    store_archived(url, archive, pages[2:3], archived=False)  # stored before the archive existed
    cut = Page(pages[3].url, pages[3].body, truncated="length")
    write_warc(archive, [cut], name="cut.warc.gz")
    store_archived(url, tmp_path / "elsewhere", [cut], name="cut.warc.gz")  # its row points at the cut record

    report = reparse(url, archive)
    assert report.by_prefix(stats_keys.reparse_skipped("")) == {"archive_unreadable": 1, "not_archived": 1,
                                                               "truncated_record": 1}
    assert report.stats[stats_keys.REPARSE_UNCHANGED] == 1
    assert report.status == "degraded" and report.exit_code == 2
    assert sorted(found["code"] for found in report.problems) == ["reparse_archive_unreadable",
                                                                  "reparse_truncated_record"]
    (run,) = runs(url)
    assert run.status == "degraded" and len(run.stats[stats_keys.VERDICT_PROBLEMS]) == 2


def test_a_page_todays_rules_reject_is_left_as_stored_and_named(archive_db):
    url, archive, _ = archive_db
    before = articles(url)
    # A rule that removes every title line: validation rejects every page (missing_title).
    report = reparse(url, archive, overrides={"CASCRAWL_BOILERPLATE_EXTRA_PATTERNS": json.dumps([".+"])})
    assert articles(url) == before
    assert report.status == "degraded"
    assert [found["code"] for found in report.problems] == ["reparse_rejected"]
    assert report.stats[stats_keys.REPARSE_SKIPPED] == len(before)


def test_a_run_holding_the_lock_refuses_a_reparse(archive_db):
    url, archive, _ = archive_db
    database = Database(url).open(create=False)
    try:
        with RunLock(database):
            with pytest.raises(RunLocked):
                reparse(url, archive)
    finally:
        database.close()
    assert runs(url) == []


def test_a_setting_the_pipelines_refuse_stops_before_anything(archive_db):
    url, archive, _ = archive_db
    with pytest.raises(ValueError):
        reparse(url, archive, overrides={"CASCRAWL_BOILERPLATE_EXTRA_PATTERNS": json.dumps(["(unclosed"])})
    assert runs(url) == []


def test_health_judges_the_latest_crawl_not_a_reparse_run():
    """/healthz and `cascrawl health` say whether the crawls are current: a reparse fetched nothing."""
    from cascrawl.run.health_state import judge

    now = datetime(2026, 6, 14, 12, 0, tzinfo=timezone.utc)

    def run(run_id, status, hours_ago, **settings):
        return {"id": run_id, "status": status, "reason": status, "settings": settings, "stats": {},
                "started_at": now - timedelta(hours=hours_ago + 1), "finished_at": now - timedelta(hours=hours_ago)}

    old_crawl = run(1, "finished", 50)
    assert not judge([run(2, "finished", 1, CASCRAWL_RUN_KIND=RUN_KIND), old_crawl], now, 26 * 3600).healthy
    assert judge([run(2, "degraded", 1, CASCRAWL_RUN_KIND=RUN_KIND), run(1, "finished", 2)], now, 26 * 3600).healthy


# --- the comparison (pure) ---

def test_the_comparison_ignores_its_own_marker_and_reads_values_as_stored():
    from datetime import date as day

    from cascrawl.reparse.compare import changed_fields, new_row, text_diff

    stored = {"url": "https://www.cas.cn/syky/202506/t20250614_5073157.shtml", "title": "标题", "text": "甲\n乙",
              "content_hash": "h1", "published_date": day(2025, 6, 14), "images": [], "attachments": [], "videos": [],
              "provenance": {"parser": "cas.article.current@2025", "reparse": {"run": 3, "cascrawl": "0.1.0"}},
              "etag": '"abc"', "last_modified": "Sat, 14 Jun 2025 08:30:00 GMT", "warc_file": "a.warc.gz",
              "warc_offset": 10, "warc_record_id": "<urn:uuid:1>"}
    item = {**stored, "url": "http://mirror/syky/202506/t20250614_5073157.shtml", "etag": None, "last_modified": None,
            "published_date": day(2025, 6, 14), "images": (), "provenance": {"parser": "cas.article.current@2025"},
            "warc_file": None, "warc_offset": None, "warc_record_id": None}
    row = new_row(stored, item, {"run": 4, "cascrawl": "0.2.0"})
    assert row["url"] == stored["url"] and (row["etag"], row["warc_offset"]) == ('"abc"', 10)  # no new fetch
    assert row["provenance"]["reparse"] == {"run": 4, "cascrawl": "0.2.0"}
    assert changed_fields(stored, row) == []  # another run's marker, a tuple for a list: the same article
    assert changed_fields({**stored, "published_date": "2025-06-14"}, row) == []
    assert changed_fields(stored, {**row, "text": "甲", "content_hash": "h2"}) == ["text"]
    assert changed_fields(stored, {**row, "provenance": {"parser": "cas.article.current@2026"}}) == ["provenance"]
    assert changed_fields(stored, {**row, "content_hash": "h3"}) == ["content_hash"]
    assert text_diff("甲\n乙", "甲", "text") == ["--- text (stored)", "+++ text (today)", "@@ -1,2 +1 @@", " 甲", "-乙"]


def test_the_verdict_of_a_reparse_run():
    import signal

    from cascrawl.run.verdict import reparse_verdict

    clean = {stats_keys.REPARSE_EXAMINED: 5, stats_keys.reparse_skipped("not_archived"): 2}
    assert (reparse_verdict(clean).status, reparse_verdict(clean).exit_code) == ("finished", 0)  # not archived: fine
    troubled = {**clean, stats_keys.reparse_skipped("archive_unreadable"): 1,
                stats_keys.reparse_skipped("rejected/missing_title"): 2, stats_keys.reparse_skipped("rejected/missing_date"): 1}
    degraded = reparse_verdict(troubled)
    assert (degraded.status, degraded.exit_code) == ("degraded", 2)
    assert [(p["code"], p["names"]) for p in degraded.problems] == [
        ("reparse_archive_unreadable", ["archive_unreadable"]), ("reparse_rejected", ["missing_date", "missing_title"])]
    assert "3 article(s) today's rules would reject (missing_date 1, missing_title 2)" in degraded.problems[1]["text"]
    stopped = reparse_verdict(troubled, stop_signal=signal.SIGINT)
    assert (stopped.status, stopped.reason, stopped.exit_code) == ("stopped", "shutdown", 130)
    failed = reparse_verdict(clean, failure="disk full")
    assert (failed.status, failed.exit_code, failed.problems[0]["code"]) == ("failed", 1, "storage_failed")
