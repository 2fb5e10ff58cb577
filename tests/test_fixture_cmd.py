"""`cascrawl fixture URL|RECORD` and `cascrawl extract RECORD`: the real commands in a child process, on a real
WARC archive (warcio) and a database stored as a crawl stores it."""

from __future__ import annotations

import json

import pytest

from tests.support.archived import Page, fixture_pages, store_archived, write_warc

from .conftest import SITE, run_cascrawl
from .test_gold import not_gold_yet

PAGE = "syky/202506/t20250614_5073157.shtml"
ARTICLE_URL = f"https://www.cas.cn/{PAGE}"


@pytest.fixture
def archived(tmp_path):
    """Two fixture pages archived and stored: (database URL, archive folder, the rows)."""
    url = f"sqlite:///{tmp_path / 'cas.db'}"
    pages = [page for page in fixture_pages(SITE) if page.url.endswith((PAGE, "t20171205_4625813.shtml"))]
    rows = store_archived(url, tmp_path / "warc", pages)
    return url, tmp_path / "warc", {row["url"]: row for row in rows}


def test_a_stored_article_becomes_a_gold_page_with_a_skeleton_to_check(archived, tmp_path):
    url, archive, rows = archived
    gold = tmp_path / "gold"
    result = run_cascrawl("fixture", ARTICLE_URL, "--db", url, "--into", str(gold))
    assert result.returncode == 0, result.stderr
    page, expected_file = gold / PAGE, gold / PAGE.replace(".shtml", ".expected.json")
    assert page.read_bytes() == (SITE / PAGE).read_bytes()  # the page as the site served it
    expected = json.loads(expected_file.read_text("utf-8"))
    assert expected["to_check"].startswith("to be checked by hand")
    assert expected["listed"] is False  # no listing of the fixture copy links it
    row = rows[ARTICLE_URL]
    assert {key: expected[key] for key in ("url", "title", "text", "source", "parser")} == {
        "url": ARTICLE_URL, "title": row["title"], "text": row["text"], "source": row["source"],
        "parser": row["provenance"]["parser"]}
    assert expected["template"] == "current" and expected["published_date"] == "2025-06-14"
    # The gold test does not take a skeleton for gold: skipped, saying why.
    reason = not_gold_yet({**expected, "page": page})
    assert reason and "to be checked by hand" in reason
    assert not_gold_yet({**{k: v for k, v in expected.items() if k != "to_check"}, "page": page}) is None

    again = run_cascrawl("fixture", ARTICLE_URL, "--db", url, "--into", str(gold))
    assert again.returncode == 1 and "is there already" in again.stderr and page.read_bytes() == (SITE / PAGE).read_bytes()


def test_a_record_reference_and_a_name_of_ones_own(archived, tmp_path):
    url, archive, rows = archived
    row = rows[ARTICLE_URL]
    gold = tmp_path / "gold"
    record = f"{archive / row['warc_file']}#{row['warc_offset']}"
    result = run_cascrawl("fixture", record, "--into", str(gold), "--name", "syky/202506/t20250614_5073157-redesign")
    assert result.returncode == 0, result.stderr
    assert (gold / "syky/202506/t20250614_5073157-redesign.shtml").read_bytes() == (SITE / PAGE).read_bytes()
    assert (gold / "syky/202506/t20250614_5073157-redesign.expected.json").is_file()


def test_what_cannot_be_made_a_fixture_is_said_in_one_line(archived, tmp_path):
    url, archive, rows = archived
    unknown = run_cascrawl("fixture", "https://www.cas.cn/syky/202506/t20250614_9999999.shtml", "--db", url,
                           "--into", str(tmp_path / "gold"))
    assert unknown.returncode == 3 and "no stored article has the URL" in unknown.stderr
    missing = run_cascrawl("fixture", f"{archive}/nothing.warc.gz#0", "--into", str(tmp_path / "gold"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "Traceback" not in unknown.stderr + missing.stderr
    assert not (tmp_path / "gold").exists()


def test_extract_reads_an_archived_record_as_the_crawl_received_it(archived, tmp_path):
    url, archive, rows = archived
    row = rows[ARTICLE_URL]
    record = f"{archive / row['warc_file']}#{row['warc_offset']}"
    from_file = run_cascrawl("extract", str(SITE / PAGE), "--json", "--content-type", "text/html")
    positional = run_cascrawl("extract", record, "--json")
    option = run_cascrawl("extract", "--record", record, "--json")
    assert positional.returncode == option.returncode == from_file.returncode == 0, positional.stderr + option.stderr
    assert json.loads(positional.stdout) == json.loads(option.stdout) == json.loads(from_file.stdout)

    cut = write_warc(tmp_path / "cut", [Page(ARTICLE_URL, (SITE / PAGE).read_bytes()[:2000], truncated="length")])[0]
    truncated = run_cascrawl("extract", f"{tmp_path / 'cut' / cut.warc_file}#{cut.offset}")
    assert truncated.returncode == 1 and "was cut (length)" in truncated.stderr
    wrong = run_cascrawl("extract", f"{archive / row['warc_file']}#{row['warc_offset'] + 1}")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    both = run_cascrawl("extract", record, "--record", record)
    assert both.returncode == 2
