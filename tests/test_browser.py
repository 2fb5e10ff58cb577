"""The operator page in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright),
served by a real `cascrawl serve` on 127.0.0.1.

Article content is untrusted: an article whose title, text and source carry markup must show that
markup as text, and no script of it may run.

Without Chromium the test skips, saying so; under CI (CI=true) it fails instead: .ci/run installs
Debian's chromium package, so a skip there would hide that the page was never tested. Another
binary: CASCRAWL_TEST_CHROMIUM=/path/to/chromium.
"""

from __future__ import annotations

import os
import re
import shutil
from urllib.parse import urlsplit

import pytest

from tests.support.binaries import required

from .api_support import crawled_database, made_up_article, serve, upsert  # noqa: F401
from .conftest import expected_articles

CHROMIUM = os.environ.get("CASCRAWL_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

HOSTILE_TITLE = '<script>window.__pwned = 1</script>量子测量<img src=x onerror="window.__pwned = 2">新进展'
HOSTILE_TEXT = ("第一段：<b>不是粗体</b>。\n"
                "<script>document.title = 'pwned'; window.__pwned = 3</script>\n"
                "<img src=x onerror=\"alert('pwned')\">")
HOSTILE_SOURCE = "<svg onload=\"window.__pwned = 4\">"


@pytest.fixture(scope="module")
def chromium():
    return required(CHROMIUM, (f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set CASCRAWL_TEST_CHROMIUM): "
                  "the operator page is not tested in a browser"))


@pytest.fixture
def browser_page(chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True, args=FLAGS)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(15_000)
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        try:
            yield page
        finally:
            context.close()


@pytest.fixture
def hostile_db(request, tmp_path):
    """The crawl of the fixture copy plus an article full of markup, revised once."""
    url = crawled_database("sqlite", request, tmp_path)
    first = made_up_article(1, title=HOSTILE_TITLE, text="最初的版本 <i>旧</i>")
    first["images"] = [{"url": "javascript:window.__pwned = 5", "caption": "<u>图注</u>"}]
    first["source"] = HOSTILE_SOURCE
    upsert(url, [first])
    second = {**made_up_article(1, title=HOSTILE_TITLE, text=HOSTILE_TEXT), "images": first["images"],
              "source": HOSTILE_SOURCE}
    assert upsert(url, [second]).revised == 1
    return url


def _scripts_ran(page) -> dict:
    return page.evaluate("""() => ({
        pwned: window.__pwned === undefined ? null : window.__pwned,
        scripts: document.querySelectorAll('script').length,
        handlers: document.querySelectorAll('[onerror], [onload]').length,
        svgs: document.querySelectorAll('svg').length,
        imgs: document.querySelectorAll('img').length,
    })""")


def test_operator_page_search_and_article_in_chromium(browser_page, hostile_db, serve, tmp_path):
    page = browser_page
    server = serve(hostile_db)

    page.goto(f"{server.base}/ui/")
    assert page.locator("#health-line").inner_text().startswith("✓ OK Last crawl: ok, ")
    run_row = page.locator("#runs tbody tr").first
    assert "finished" in run_row.inner_text() and page.locator("#runs tbody tr").count() == 1
    assert page.locator("#sections tbody tr", has_text="syky").count() == 1

    # Search for the hostile article, as an operator would: type, press Enter.
    page.fill("input[name=q]", "量子测量")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/ui/articles?q=*")
    assert page.locator("#matching").inner_text().startswith("1 article(s)")
    link = page.locator("#articles a.title")
    assert link.count() == 1 and link.inner_text() == HOSTILE_TITLE  # shown as text, markup and all
    link.click()
    page.wait_for_url("**/ui/articles/*")

    assert page.locator("#title").inner_text() == HOSTILE_TITLE
    assert page.locator("#text p").all_text_contents() == HOSTILE_TEXT.split("\n")  # one paragraph a line
    assert HOSTILE_SOURCE in page.locator(".meta").inner_text()
    assert page.title().startswith(HOSTILE_TITLE)  # <title> escaped too: the document title is the raw text
    assert _scripts_ran(page) == {"pwned": None, "scripts": 0, "handlers": 0, "svgs": 0, "imgs": 0}
    assert page.dialogs == []
    source = page.locator("#source")
    assert source.get_attribute("href") == made_up_article(1)["url"] and source.get_attribute("rel") == "noopener noreferrer"
    assert page.locator("a[href^='javascript:']").count() == 0  # the image's javascript: URL is not a link
    assert "javascript:window.__pwned = 5" in page.locator("article").inner_text()
    # Provenance and the earlier revision (its text behind a <details>)
    assert page.locator("#provenance").inner_text().startswith("title")
    revisions = page.locator("#revisions")
    assert revisions.locator("tbody tr").first.inner_text().split("\t")[0].strip() == "1"
    revisions.locator("summary").first.click()
    assert "最初的版本 <i>旧</i>" in revisions.locator("details").first.inner_text()
    page.screenshot(path=str(tmp_path / "article.png"), full_page=True)

    # A real article from the crawl: search, open, its clean text and the link to the source.
    expected = next(a for a in expected_articles() if "脑机接口" in a["title"])
    page.fill("input[name=q]", "脑机接口")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/ui/articles?q=*")
    page.locator("#articles a.title", has_text=expected["title"]).click()
    page.wait_for_url("**/ui/articles/*")
    assert page.locator("#title").inner_text() == expected["title"]
    assert page.locator("#text p").all_text_contents() == expected["text"].split("\n")
    assert page.locator("#source").get_attribute("href") == expected["url"]
    assert _scripts_ran(page)["pwned"] is None and page.dialogs == []


def test_run_page_in_chromium(browser_page, hostile_db, serve):
    page = browser_page
    server = serve(hostile_db)
    page.goto(f"{server.base}/ui/")
    page.locator("#runs a").first.click()
    page.wait_for_url("**/ui/runs/*")
    assert page.locator("h1").inner_text().startswith("Run #1")
    assert "None: a clean run." in page.locator("main").inner_text()
    raw_stats = page.locator("#raw-stats table")
    assert not raw_stats.is_visible()  # the raw stats are folded away …
    page.locator("#raw-stats summary").click()
    assert raw_stats.is_visible() and "finish_reason" in raw_stats.inner_text()  # … one click from view
    assert page.locator("#mode").inner_text() == "incremental"
    assert page.locator("#coverage").inner_text().startswith("title 100%, date 100%, body 100%, source ")
    assert re.fullmatch(r"/\S+/logs/\S+\.log", page.locator("#log-file").inner_text())  # the crawl's log file
    assert "Spider closed (finished)" in page.locator("#log-tail").inner_text()  # its tail, in the page
    with page.expect_download() as download:
        page.locator("#log-download").click()
    assert download.value.suggested_filename == "run-1.log"


def offline(page) -> list[str]:
    """Refuse every request that leaves the machine (as without internet); the URLs refused."""
    refused: list[str] = []

    def route(request_route):
        host = urlsplit(request_route.request.url).hostname or ""
        if request_route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort("internetdisconnected")

    page.route("**/*", route)
    return refused


def test_api_docs_render_offline_in_chromium(browser_page, hostile_db, serve):
    page = browser_page
    refused = offline(page)
    server = serve(hostile_db)
    page.goto(f"{server.base}/docs")
    page.locator(".swagger-ui .info .title").wait_for()  # drawn by Swagger UI's JavaScript, served by cascrawl
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("cascrawl read API")
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/articles", "/articles/{article_id}", "/runs", "/runs/{run_id}", "/healthz", "/sections"} <= set(operations)
    # Try one out, as a reader of the docs would: the call goes to this server and shows its answer.
    page.locator("#operations-service-healthz_healthz_get .opblock-summary").click()
    page.locator("button.try-out__btn").click()
    page.locator("button.execute").click()
    page.locator(".live-responses-table tr.response .response-col_status").first.wait_for()
    assert page.locator(".live-responses-table tr.response .response-col_status").first.inner_text().strip() == "200"
    assert refused == []  # nothing was asked of a CDN


def test_operator_page_charts_in_chromium(browser_page, hostile_db, serve, tmp_path):
    """The three charts are SVG documents drawn by the server, shown as images: the page runs no script."""
    page = browser_page
    refused = offline(page)
    server = serve(hostile_db)
    page.goto(f"{server.base}/ui/")
    for name in ("archive", "runs", "rejects", "durations", "coverage"):
        image = page.locator(f"#chart-{name}")
        image.scroll_into_view_if_needed()
        page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image.element_handle())
        assert image.evaluate("image => image.naturalWidth") == 860  # decoded: an SVG the browser could draw
    page.screenshot(path=str(tmp_path / "operator-page.png"), full_page=True)
    assert (tmp_path / "operator-page.png").stat().st_size > 20_000
    assert _scripts_ran(page)["scripts"] == 0 and refused == []

    # Each chart on its own: an SVG document holding what the database holds, and no script.
    sections = {article["section"] for article in expected_articles()} | {"syky"}  # the hostile article: syky
    archive = page.goto(f"{server.base}/ui/charts/archive.svg")
    assert archive.headers["content-type"] == "image/svg+xml"
    svg = archive.text()
    assert svg.startswith("<?xml") and "<svg" in svg and "<script" not in svg
    legend = set(page.locator(".legend text, .legends text").all_text_contents())
    assert sections <= legend | {text.rstrip("…") for text in legend}
    assert len(page.locator(".series rect, .series .rect").all()) >= len(sections)  # bars drawn
    runs = page.goto(f"{server.base}/ui/charts/runs.svg").text()
    assert "#1" in runs and "new articles" in runs and "<script" not in runs
    durations = page.goto(f"{server.base}/ui/charts/durations.svg").text()
    assert "duration (s)" in durations and "<script" not in durations
    coverage = page.goto(f"{server.base}/ui/charts/coverage.svg").text()
    for field in ("title", "date", "body", "source", "generic fallback"):
        assert field in coverage
    assert page.goto(f"{server.base}/ui/charts/nothing.svg").status == 422


def _overflow(page) -> int:
    """How far the page is wider than the window (0: nothing is off-screen sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", [1280, 390])
def test_operator_page_fits_desktop_and_phone_in_chromium(browser_page, hostile_db, serve, tmp_path, width):
    """At desktop width and on a 390 px phone: the verdict at the top, the runs' problems and the sections' last
    run and listing on screen (tables stack on a phone), nothing wider than the window; a screenshot of each."""
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    server = serve(hostile_db)
    shots = {"overview": "/ui/", "run": "/ui/runs/1", "articles": "/ui/articles?section=syky&sort=published",
             "article": None, "refused": "/ui/articles?q=" + "长" * 201}
    for name, path in shots.items():
        if path is None:  # the revised hostile article: its diff
            page.goto(f"{server.base}/ui/articles?q=量子测量")
            page.locator("#articles a.title").first.click()
            page.wait_for_url("**/ui/articles/*")
            assert page.locator("#changes .diff p.ins").count() >= 1
        else:
            page.goto(f"{server.base}{path}")
        page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
        assert _overflow(page) <= 0, (name, width, _overflow(page))
        assert _scripts_ran(page)["pwned"] is None
        if name == "overview":
            top = page.locator("#health").bounding_box()
            assert top["y"] < 200 and top["x"] + top["width"] <= width  # the first thing under the header
            for cell in ("#runs tbody tr:first-child td[data-label=rejects]",
                         "#sections tbody tr:first-child td[data-label='last run']",
                         "#sections tbody tr:first-child td[data-label=listing]"):
                box = page.locator(cell).bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (cell, box)
        if name == "refused":
            assert page.locator("#error").inner_text() == "search: at most 200 characters, got 201"
    assert all((tmp_path / f"{name}-{width}.png").stat().st_size > 10_000 for name in shots)


def test_degraded_dead_and_running_runs_read_for_what_they_are_in_chromium(browser_page, request, serve, tmp_path):
    """The three states an operator must tell apart at a glance, at phone width, written by the db layer into a
    crawled database while `cascrawl serve` reads it: a degraded run (its sections named), a run that died
    (stale heartbeat, lock free: interrupted), a running one (fresh heartbeat, its lock held: live counts)."""
    import time
    from datetime import datetime, timezone

    from cascrawl import stats_keys
    from cascrawl.db import Database, RunLock, runs
    from cascrawl.run.heartbeat import live_counts

    url = crawled_database("sqlite", request, tmp_path)
    database = Database(url).open()
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 900})
    server = serve(url)
    moment = lambda: datetime.now(timezone.utc)  # noqa: E731 each run newer than the crawl's and the one before
    try:
        problems = [{"code": "section_missing", "names": ["yw"], "text": "1 section(s) answered 404 or 410: yw"}]
        degraded = database.start_run(base_url="https://www.cas.cn", sections=["yw", "syky"], settings={},
                                      started_at=moment())
        database.finish_run(degraded, status="degraded", reason="finished", stats={stats_keys.VERDICT_PROBLEMS: problems})
        page.goto(f"{server.base}/ui/")
        assert page.locator("#health-line").inner_text().startswith("⚠ Warning Last crawl: degraded, ")
        assert page.locator("#health-problems li").inner_text().endswith("(sections: yw)")
        assert page.locator("#health-problems strong").inner_text() == "yw" and page.locator("#health").is_visible()
        page.screenshot(path=str(tmp_path / "degraded-390.png"), full_page=True)

        dead = database.start_run(base_url="https://www.cas.cn", sections=["yw"], settings={}, started_at=moment())
        runs.beat(database, dead, live_counts({stats_keys.LISTING_PAGES: 2}, 0.1))  # a beat every 0.1 s …
        time.sleep(1)  # … and none for ten of them: stale (past 3 beats), its lock free
        page.reload()
        assert page.locator("#health-line").inner_text().startswith("✖ Error Last crawl: interrupted, ")
        assert page.locator("#runs tbody tr").first.locator(".badge").inner_text() == "interrupted"
        page.screenshot(path=str(tmp_path / "interrupted-390.png"), full_page=True)

        database.finish_run(dead, status="interrupted", reason=runs.INTERRUPTED_REASON, stats=None)
        live = database.start_run(base_url="https://www.cas.cn", sections=["syky"], settings={
            "CASCRAWL_INCREMENTAL": True}, started_at=moment())
        runs.beat(database, live, live_counts({stats_keys.LISTING_PAGES: 9, stats_keys.ARTICLES_UPSERTED: 31,
                                               stats_keys.ARTICLES_INSERTED: 30, stats_keys.ARTICLES_REVISED: 1}, 5.0))
        with RunLock(database):  # the crawl holds its lock: alive
            page.reload()
            running = page.locator(f"#running-{live}")
            assert running.is_visible()
            assert "so far: 9 listing pages · 31 articles stored (30 new, 1 revised)" in running.inner_text()
            assert page.locator("#runs tbody tr").first.locator(".badge").inner_text() == "running"
            assert _overflow(page) <= 0
            page.screenshot(path=str(tmp_path / "running-390.png"), full_page=True)
    finally:
        database.close()
