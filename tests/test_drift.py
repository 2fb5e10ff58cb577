"""The drift report (cascrawl/drift.py): generic-path pages grouped by where their body and heading were found,
in the run's stats, `cascrawl runs show` and the run page."""

from __future__ import annotations

import json
import shutil

import markupsafe
import pytest
from scrapy.utils.test import get_crawler

from cascrawl.drift import GROUPS, PAGES, DriftReport, describe_group, drift_groups, signature, signature_key
from tests.support.fixture_site import serve_site
from cascrawl.single_page import extract_page

from .conftest import FAST, SITE, run_cascrawl

# B14, the redesigned article template no CAS layout knows (fixtures/README.md)
REDESIGN = SITE / "syky" / "202603" / "t20260318_5105678.shtml"
# the syky articles served in that template instead of their own
REPLACED = ["syky/201604/t20160420_4577316.shtml", "syky/201811/t20181112_4670202.shtml",
            "syky/202504/t20250418_5064699.shtml", "syky/202509/t20250905_5081234.shtml"]


def generic(body: str, title: str) -> dict:
    return {"parser": "generic.dom@2", "body": body, "title": title}


# --- the signature, from the provenance contract ---

@pytest.mark.parametrize("provenance, expected", [
    (generic("generic:div#main>div.article-content", "dom:h1.article-title"),
     ("div#main>div.article-content", "h1.article-title")),
    (generic("generic:div.content", "meta:og:title"), ("div.content", "meta:og:title")),
    (generic("generic:trafilatura", "dom:<title>"), ("trafilatura", "<title>")),  # today's generic path
    ({"parser": "generic.trafilatura@1"}, ("none", "none")),
    ({"parser": "cas.article.current@2025", "body": "dom:div.trs_editor_view", "title": "meta:ArticleTitle"}, None),
    ({}, None), (None, None), ("generic", None),
])
def test_the_signature_is_the_body_containers_path_and_the_headings_source(provenance, expected):
    assert signature(provenance) == expected


def _report(**settings) -> tuple[DriftReport, dict]:
    crawler = get_crawler(settings_dict=settings)
    return DriftReport.from_crawler(crawler), crawler.stats


def _page(url: str, provenance: dict) -> dict:
    return {"url": url, "provenance": provenance}


def test_pages_are_counted_per_group_with_a_few_examples_and_a_bounded_number_of_groups():
    report, stats = _report(CASCRAWL_DRIFT_MAX_GROUPS=2, CASCRAWL_DRIFT_EXAMPLES=2)
    redesign = generic("generic:div#main>div.article-content", "dom:h1.article-title")
    for number in range(5):
        report.item_scraped(_page(f"https://www.cas.cn/syky/202603/t20260318_{number}.shtml", redesign))
    report.item_scraped(_page("https://www.cas.cn/syky/202603/t20260318_0.shtml", redesign))  # a second time: counted
    report.item_scraped(_page("https://www.cas.cn/zt/202603/t20260301_1.shtml", generic("generic:div.zt", "meta:og:title")))
    report.item_scraped(_page("https://www.cas.cn/tp/202603/t20260301_2.shtml", generic("generic:td", "dom:<title>")))
    report.item_scraped(_page("https://www.cas.cn/tp/202603/t20260301_3.shtml", generic("generic:td", "dom:<title>")))
    report.item_scraped(_page("https://www.cas.cn/yw/202603/t20260301_4.shtml", {"parser": "cas.article.current@2025"}))
    report.item_scraped({"url": "https://www.cas.cn/yw/202603/t20260301_5.shtml"})  # a failed fetch: no provenance
    values = stats.get_stats()
    assert values[PAGES + signature_key("div#main>div.article-content", "h1.article-title")] == 6
    assert values[PAGES + "(other)"] == 2
    assert drift_groups(values) == [
        {"body": "div#main>div.article-content", "heading": "h1.article-title", "pages": 6,
         "examples": ["https://www.cas.cn/syky/202603/t20260318_0.shtml", "https://www.cas.cn/syky/202603/t20260318_1.shtml"]},
        {"body": "div.zt", "heading": "meta:og:title", "pages": 1, "examples": ["https://www.cas.cn/zt/202603/t20260301_1.shtml"]},
        {"body": "(other)", "heading": "(other)", "pages": 2, "examples": []},
    ]
    assert json.loads(json.dumps(values[GROUPS])) == values[GROUPS]  # the run record stores it as JSON


def test_a_group_another_worker_described_still_counts_with_its_key():
    """A distributed run sums the workers' counts; the descriptions are the closing worker's."""
    stats = {PAGES + signature_key("div.article-content", "h1.title"): 7, GROUPS: {}, "cascrawl/extract/parser/x": 3}
    assert drift_groups(stats) == [{"body": "div.article-content", "heading": "h1.title", "pages": 7, "examples": []}]
    assert drift_groups(None) == drift_groups({}) == []


@pytest.mark.parametrize("group, line", [
    ({"body": "div#main>div.article-content", "heading": "h1.article-title", "pages": 32, "examples": ["u1", "u2", "u3"]},
     "new template? 32 pages, body at `div#main>div.article-content`, heading `h1.article-title`, e.g. u1, u2, u3"),
    ({"body": "div", "heading": "none", "pages": 1, "examples": []}, "new template? 1 page, body at `div`, heading `none`"),
    ({"body": "trafilatura", "heading": "<title>", "pages": 2, "examples": ["u1"]},
     "new template? 2 pages, body by `trafilatura` (no container recorded), heading `<title>`, e.g. u1"),
    ({"body": "(other)", "heading": "(other)", "pages": 4, "examples": []},
     "4 more pages of other templates (beyond CASCRAWL_DRIFT_MAX_GROUPS)"),
])
def test_a_group_reads_as_a_hint(group, line):
    assert describe_group(group) == line


# --- a real crawl: some articles of a section served in a template no layout knows ---

@pytest.fixture
def redesigned_site(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    for relative in REPLACED:
        shutil.copy(REDESIGN, site / relative)
    return site


def test_a_crawl_reports_the_unknown_template_in_runs_show_and_on_the_run_page(redesigned_site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'drift.db'}"
    with serve_site(redesigned_site) as base:
        crawl = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "syky", *FAST)
    assert crawl.returncode == 0, crawl.stderr[-3000:]  # 4 of 8 pages generic: not more than half, no alarm
    urls = sorted(f"https://www.cas.cn/{relative}" for relative in REPLACED)
    # what the generic path records for that page, whatever its version: the group the run must show
    body, heading = signature(extract_page(REDESIGN.read_bytes(), None, urls[0]).item["provenance"])

    shown = run_cascrawl("runs", "show", "latest", "--db", db_url, "--json")
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    assert run["drift"] == [{"body": body, "heading": heading, "pages": 4, "examples": run["drift"][0]["examples"]}]
    examples = run["drift"][0]["examples"]
    assert len(examples) == 3 and set(examples) < set(urls)  # CASCRAWL_DRIFT_EXAMPLES = 3 of the 4
    assert run["stats"]["cascrawl/extract/generic_fallback"] == 4

    text = run_cascrawl("runs", "show", "latest", "--db", db_url)
    assert text.returncode == 0, text.stderr
    assert f"  - {describe_group(run['drift'][0])}" in text.stdout.splitlines()
    assert "new template? 4 pages, " in text.stdout

    from fastapi.testclient import TestClient

    from cascrawl.api.app import create_app
    from cascrawl.db import Database

    database = Database(db_url).open(create=False)
    try:
        with TestClient(create_app(database)) as client:
            detail = client.get(f"/runs/{run['id']}")
            page = client.get(f"/ui/runs/{run['id']}")
    finally:
        database.close()
    assert detail.status_code == 200 and detail.json()["drift"] == run["drift"]
    assert page.status_code == 200
    drift = page.text.split('<ul id="drift">', 1)[1].split("</ul>", 1)[0]
    assert "new template? 4 pages, " in drift and f"<code>{markupsafe.escape(body)}</code>" in drift
    for url in examples:
        assert f'<a href="{url}" rel="noopener noreferrer">{url}</a>' in drift


def test_a_crawl_of_known_layouts_reports_no_drift(site_url, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'known.db'}"
    crawl = run_cascrawl("crawl", "--base-url", site_url, "--db", db_url, "--section", "cm", *FAST)
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    run = json.loads(run_cascrawl("runs", "show", "latest", "--db", db_url, "--json").stdout)
    assert run["drift"] == []
    assert "drift:" not in run_cascrawl("runs", "show", "latest", "--db", db_url).stdout
