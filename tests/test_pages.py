"""The operator page (/ui/) in each state an operator meets, read through the real app (TestClient) over real
SQLite databases written by the db layer: a degraded run with its sections named, a dead run shown interrupted,
a running one with its counts so far, a run's mode, duration, HTTP answers, walk and log (tail, download, and
paths that are not its log refused), every run a page at a time, article filters a search keeps, both sorts,
revision diffs, and input the page cannot take answered in the page. The pure pieces (mode, facts, diff, chart
axes) have unit tests at the end; the reads under the page run on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from xml.etree import ElementTree

import lxml.html
import pytest
from fastapi.testclient import TestClient

from cascrawl import runlog, stats_keys
from cascrawl.api import charts, pages
from cascrawl.api.app import create_app
from cascrawl.db import Database, RunLock, page_reads, runs
from cascrawl.run import mode
from cascrawl.run.heartbeat import live_counts

from .api_support import made_up_article
from .db_backends import db_url, postgres_server  # noqa: F401



def _now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def database(tmp_path):
    found = Database(f"sqlite:///{tmp_path / 'page.db'}").open()
    yield found
    found.close()


def _client(database: Database) -> TestClient:
    return TestClient(create_app(database))


def _get(database: Database, path: str, status: int = 200):
    """The page at `path` as a parsed document (and the response)."""
    with _client(database) as client:
        answer = client.get(path)
    assert answer.status_code == status, answer.text[:2000]
    assert answer.headers["content-type"].startswith("text/html")
    return lxml.html.fromstring(answer.text), answer


def _text(document, selector: str) -> str:
    found = document.cssselect(selector)
    assert found, f"nothing matches {selector}"
    return " ".join(" ".join(element.text_content().split()) for element in found)


def _run(database: Database, *, status: str = "finished", started: timedelta = timedelta(hours=4),
         seconds: float = 120, stats: dict | None = None, settings: dict | None = None, sections=("yw",),
         log_file: str | None = None, reason: str | None = "finished") -> int:
    """A closed run recorded by the db layer, started `started` ago and lasting `seconds`."""
    begun = _now() - started
    run_id = database.start_run(base_url="https://www.cas.cn", sections=list(sections), settings=settings or {},
                                started_at=begun, log_file=log_file)
    database.finish_run(run_id, status=status, reason=reason, stats=stats if stats is not None else {},
                        finished_at=begun + timedelta(seconds=seconds))
    return run_id


def _upsert(database: Database, rows: list[dict]):
    return database.upsert_articles(rows, seen_at=datetime.now(timezone.utc))


def _article(number: int, section: str = "syky", published: date = date(2026, 1, 1), **fields) -> dict:
    row = made_up_article(number, section=section, **fields)
    return {**row, "published_date": published}


# --- the overview: is it healthy? ---

def test_a_degraded_run_heads_the_overview_with_its_age_and_sections_named(database):
    problems = [{"code": "section_missing", "names": ["cm", "yw"], "text": "2 section(s) answered 404 or 410: cm, yw"},
                {"code": "articles_refused", "names": ["articles_refused"], "text": "3 article(s) refused by the database"}]
    run_id = _run(database, status="degraded", started=timedelta(hours=3, minutes=32), seconds=120,
                  stats={stats_keys.VERDICT_PROBLEMS: problems, "downloader/response_status_count/404": 2})
    document, _ = _get(database, "/ui/")

    health = document.get_element_by_id("health")
    assert "warning" in health.classes
    assert re.fullmatch(rf"⚠ Warning Last crawl: degraded, 3 h 3\d min ago \(run #{run_id}\)",
                        _text(document, "#health-line"))
    items = document.cssselect("#health-problems li")
    assert [item.classes for item in items] == [{"problem", "warning", "problem-section_missing"},
                                                {"problem", "error", "problem-articles_refused"}]
    assert " ".join(items[0].text_content().split()) == \
        "⚠ Warning section_missing 2 section(s) answered 404 or 410: cm, yw (sections: cm, yw)"
    assert [strong.text for strong in items[0].cssselect(".names strong")] == ["cm", "yw"]
    assert items[1].text_content().split()[:2] == ["✖", "Error"]  # a refused article is worse than a missing section
    row = document.cssselect("#runs tbody tr")[0]
    assert "warning" in row.classes and "degraded" in _text(row, "td[data-label=status]")
    assert _text(row, "td[data-label=HTTP]") == "404: 2"


def test_a_clean_recent_run_reads_ok(database):
    _run(database, started=timedelta(minutes=10), seconds=30)
    document, _ = _get(database, "/ui/")
    assert "ok" in document.get_element_by_id("health").classes
    assert re.fullmatch(r"✓ OK Last crawl: ok, \d+ min( \d+ s)? ago \(run #1\)", _text(document, "#health-line"))
    assert not document.cssselect("#health-detail") and not document.cssselect("#health-problems")


def test_a_dead_run_reads_interrupted_everywhere_on_the_page(database):
    _run(database, started=timedelta(hours=5))
    dead = database.start_run(base_url="https://www.cas.cn", sections=["yw"], settings={},
                              started_at=_now() - timedelta(minutes=10))
    runs.beat(database, dead, live_counts({stats_keys.LISTING_PAGES: 3}, 5.0), at=_now() - timedelta(minutes=9))
    document, _ = _get(database, "/ui/")  # the heartbeat is stale and nobody holds the lock: it died
    assert "error" in document.get_element_by_id("health").classes
    assert re.fullmatch(rf"✖ Error Last crawl: interrupted, 1\d min( \d+ s)? ago \(run #{dead}\)",  # since it began
                        _text(document, "#health-line"))
    assert "status interrupted" in _text(document, "#health-problems")
    assert not document.cssselect(f"#running-{dead}")
    assert _text(document.cssselect("#runs tbody tr")[0], "td[data-label=status]") == "interrupted"
    run_page, _ = _get(database, f"/ui/runs/{dead}")
    assert _text(run_page, "h1") == f"Run #{dead} interrupted"
    first = run_page.cssselect("#problems li")[0]
    assert "error" in first.classes and "status interrupted: the process ended" in first.text_content()


def test_a_running_crawl_shows_its_counts_so_far_and_its_heartbeat(database):
    _run(database, started=timedelta(hours=2, minutes=30), seconds=60)
    live = database.start_run(base_url="https://www.cas.cn", sections=["yw", "syky"], settings={
        "CASCRAWL_INCREMENTAL": True, "CASCRAWL_REFRESH_DAYS": 0}, started_at=_now() - timedelta(minutes=3))
    counts = {stats_keys.LISTING_PAGES: 12, stats_keys.ARTICLES_UPSERTED: 40, stats_keys.ARTICLES_INSERTED: 30,
              stats_keys.ARTICLES_REVISED: 2, stats_keys.rejected("http_404"): 1}
    runs.beat(database, live, live_counts(counts, 5.0))
    other = database.start_run(base_url="https://www.cas.cn", sections=["cm"], settings={}, started_at=_now())
    with RunLock(database):  # the crawl holds its lock
        document, _ = _get(database, "/ui/")
    assert _text(document, f"#live-{other}") == "so far: nothing counted yet · no heartbeat yet"
    assert re.match(r"✓ OK Last crawl: ok, 2 h \d+ min ago", _text(document, "#health-line"))  # the last completed
    running = _text(document, f"#running-{live}")
    assert re.search(rf"▶ Running Crawl #{live} running for \d+ min( \d+ s)? \(incremental, sections yw, syky\)", running)
    assert "so far: 12 listing pages · 40 articles stored (30 new, 2 revised)" in running
    assert re.search(r"last heartbeat \d+ s ago", running)
    row = document.cssselect("#runs tbody tr")[1]
    assert _text(row, "td[data-label=status]") == "running" and _text(row, "td[data-label=stored]") == "40"
    assert _text(row, "td[data-label=duration]").endswith("so far")


# --- a run's page ---

def test_a_run_page_tells_mode_duration_http_and_the_walk_in_words(database):
    stats = {"downloader/response_status_count/200": 40, "downloader/response_status_count/404": 2,
             "downloader/response_status_count/503": 1, stats_keys.INCREMENTAL_KNOWN_ARTICLES: 900,
             stats_keys.INCREMENTAL_KNOWN_SKIPPED: 57, stats_keys.INCREMENTAL_STOPPED_EARLY: 4,
             stats_keys.WALKS_DEEP: ["syky"], stats_keys.REFETCH_DUE: 2, "finish_reason": "finished"}
    incremental = _run(database, seconds=3725, stats=stats, settings={"CASCRAWL_INCREMENTAL": True})
    full = _run(database, seconds=42, settings={"CASCRAWL_INCREMENTAL": False, "CASCRAWL_REFRESH_DAYS": 0})
    reparse = _run(database, seconds=5, settings={"CASCRAWL_RUN_KIND": "reparse"})

    document, _ = _get(database, f"/ui/runs/{incremental}")
    assert _text(document, "#mode") == "incremental" and _text(document, "#duration") == "1 h 2 min"
    assert _text(document, "#http") == "200: 40 · 404: 2 · 503: 1"
    assert [" ".join(li.text_content().split()) for li in document.cssselect("#walk-facts li")] == [
        "900 article(s) already stored were not fetched again", "57 listing entries skipped as already stored",
        "4 section walk(s) stopped where the last complete walk began",
        "walked down to the last listing page (deep walk): syky", "2 rejected page(s) due again were requested directly"]
    # The raw stats are there, folded away.
    raw = document.get_element_by_id("raw-stats")
    assert raw.tag == "details" and "open" not in raw.attrib and "finish_reason" in raw.text_content()
    assert _text(_get(database, f"/ui/runs/{full}")[0], "#mode") == "full"
    assert _text(_get(database, f"/ui/runs/{reparse}")[0], "#mode") == "reparse"
    overview, _ = _get(database, "/ui/")
    assert [_text(row, "td[data-label=mode]") for row in overview.cssselect("#runs tbody tr")] == [
        "reparse", "full", "incremental"]


def test_a_run_page_shows_the_tail_of_its_own_log_and_serves_it(database, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "page-20260101T000000Z.log"
    lines = [f"2026-01-01 00:00:00 [scrapy] INFO: line {number:06d} 日志" for number in range(4000)]
    log.write_text("\n".join(lines) + "\nTHE LAST LINE <b>not bold</b>\n", encoding="utf-8")
    run_id = _run(database, log_file=str(log))

    document, answer = _get(database, f"/ui/runs/{run_id}")
    tail = document.get_element_by_id("log-tail").text_content()
    assert tail.endswith("THE LAST LINE <b>not bold</b>\n") and "<b>not bold</b>" not in answer.text  # escaped
    assert lines[0] not in tail and tail.startswith("2026-01-01")  # the tail, cut at a line
    assert len(tail.encode()) <= pages.LOG_TAIL_BYTES
    assert "its last 64 KiB" in _text(document, "main")
    assert document.get_element_by_id("log-download").get("href") == f"/ui/runs/{run_id}/log"

    with _client(database) as client:
        download = client.get(f"/ui/runs/{run_id}/log")
        assert download.status_code == 200 and download.headers["content-type"] == "text/plain; charset=utf-8"
        assert download.headers["content-disposition"] == f'attachment; filename="run-{run_id}.log"'
        assert download.content == log.read_bytes()
        assert client.get(f"/ui/runs/{run_id + 100}/log").status_code == 404
        assert client.post(f"/ui/runs/{run_id}/log").status_code == 405


def test_only_the_runs_own_log_file_is_ever_read(database, tmp_path):
    secret = tmp_path / "secret.log"
    secret.write_text("a secret\n", encoding="utf-8")
    (tmp_path / "logs").mkdir()
    link = tmp_path / "logs" / "linked.log"
    link.symlink_to(secret)
    not_a_log = tmp_path / "passwd"
    not_a_log.write_text("root:x:0:0\n", encoding="utf-8")
    cases = {
        str(tmp_path / "logs" / ".." / "secret.log"): "not a log file a run records",  # traversal
        str(link): "reached through a symbolic link",
        str(not_a_log): "not a log file a run records",  # not a .log
        "logs/relative.log": "not a log file a run records",
        str(tmp_path / "logs" / "gone.log"): "no longer there",
        str(tmp_path / "logs"): "not a log file a run records",
    }
    ids = {_run(database, log_file=path): why for path, why in cases.items()}
    silent = _run(database, log_file=None)
    with _client(database) as client:
        for run_id, why in ids.items():
            document = lxml.html.fromstring(client.get(f"/ui/runs/{run_id}").text)
            assert why in _text(document, "#log-missing") and not document.cssselect("#log-tail")
            answer = client.get(f"/ui/runs/{run_id}/log")
            assert answer.status_code == 404 and why in answer.text and "a secret" not in answer.text
            assert "root:x" not in answer.text
        document = lxml.html.fromstring(client.get(f"/ui/runs/{silent}").text)
        assert "no log file recorded for this run" in _text(document, "#log-missing")


def test_a_log_is_read_from_its_end_within_the_bound(tmp_path):
    log = tmp_path / "big.log"
    log.write_bytes(b"first line\n" + b"x" * 50 + b"\n" + "最后一行\n".encode())
    assert runlog.read_tail(log, 1000) == (log.read_text("utf-8"), False)
    text, cut = runlog.read_tail(log, 30)
    assert cut and text == "最后一行\n"  # whole lines only
    assert runlog.readable_log(str(log)) == (log, "")


# --- every run, a page at a time ---

def test_every_run_can_be_reached_a_page_at_a_time(database):
    ids = [_run(database, started=timedelta(hours=100 - number)) for number in range(45)]
    document, _ = _get(database, "/ui/")
    assert len(document.cssselect("#runs tbody tr")) == pages.RUNS_PAGE
    assert _text(document, "#runs-pager").startswith("page 1 of 3 (45 runs)")
    assert document.cssselect("#runs-pager a[rel=next]")[0].get("href") == "/ui/runs?page=2"
    last, _ = _get(database, "/ui/runs?page=3")
    assert [_text(row, "td[data-label=run]") for row in last.cssselect("#runs tbody tr")] == \
        [f"#{run_id}" for run_id in reversed(ids[:5])]  # the oldest five
    assert last.cssselect("#runs-pager a[rel=prev]")[0].get("href") == "/ui/runs?page=2"
    refused, _ = _get(database, "/ui/runs?page=abc", status=422)
    assert _text(refused, ".error") == "page: expected a page number from 1, got 'abc'"


# --- articles ---

@pytest.fixture
def articles(database):
    rows = [_article(1, "yw", date(2025, 3, 1), title="院内要闻一"), _article(2, "syky", date(2024, 5, 1), title="量子科研进展"),
            _article(3, "syky", date(2025, 6, 1), title="量子计算新进展"), _article(4, "syky", date(2023, 1, 9), title="脑机接口"),
            _article(5, "cm", date(2025, 7, 1), title="传媒扫描")]
    for row in rows:  # one at a time: their change times are in this order
        _upsert(database, [row])
    return database


def _titles(document) -> list[str]:
    return [link.text_content() for link in document.cssselect("#articles a.title")]


def test_articles_filter_by_section_and_publication_date_and_sort_both_ways(articles):
    document, _ = _get(articles, "/ui/articles?section=syky&published_from=2024-01-01&published_to=2025-12-31")
    assert _titles(document) == ["量子计算新进展", "量子科研进展"]
    assert _text(document, "#matching").startswith("2 article(s), newest change first")
    newest_change, _ = _get(articles, "/ui/articles")
    assert _titles(newest_change) == ["传媒扫描", "脑机接口", "量子计算新进展", "量子科研进展", "院内要闻一"]
    by_publication, _ = _get(articles, "/ui/articles?sort=published")
    assert _titles(by_publication) == ["传媒扫描", "量子计算新进展", "院内要闻一", "量子科研进展", "脑机接口"]
    # The form shows what is filtered.
    form = document.get_element_by_id("filters")
    assert form.cssselect("select[name=section] option[selected]")[0].get("value") == "syky"
    assert form.cssselect("input[name=published_from]")[0].get("value") == "2024-01-01"


def test_a_search_keeps_the_section_and_dates(articles):
    document, _ = _get(articles, "/ui/articles?section=syky&published_from=2024-01-01&sort=published")
    header = document.cssselect("header form.search")[0]  # the search box every page has
    kept = {field.get("name"): field.get("value") for field in header.cssselect("input[type=hidden]")}
    assert kept == {"section": "syky", "published_from": "2024-01-01", "sort": "published"}
    # Searching from there, as the form sends it: the filters hold.
    found, _ = _get(articles, "/ui/articles?" + "&".join(f"{name}={value}" for name, value in kept.items()) + "&q=量子")
    assert _titles(found) == ["量子计算新进展", "量子科研进展"]
    assert _text(found, "h1") == "Articles in syky matching “量子”"
    assert found.cssselect("#filters input[name=q]")[0].get("value") == "量子"


def test_articles_are_paged_with_their_filters(articles, monkeypatch):
    monkeypatch.setattr(pages, "UI_PAGE", 2)  # the page size, made small for five articles
    document, _ = _get(articles, "/ui/articles?sort=published")
    assert _titles(document) == ["传媒扫描", "量子计算新进展"]
    following = document.cssselect("a[rel=next]")[0].get("href")
    assert following == "/ui/articles?sort=published&page=2"
    second, _ = _get(articles, following)
    assert _titles(second) == ["院内要闻一", "量子科研进展"]


@pytest.mark.parametrize("query,message", [
    ("q=" + "长" * 201, "search: at most 200 characters, got 201"),
    ("section=" + "a" * 300, "section: at most 200 characters, got 300"),
    ("section=nosuch", "unknown section nosuch: no article is stored under it and the catalogue does not know it"),
    ("published_from=2025-13-01", "published from: expected a date like 2025-06-14, got '2025-13-01'"),
    ("sort=title", "sort: expected changed or published, got 'title'"),
    ("page=0", "page: expected a page number from 1, got '0'"),
])
def test_input_the_page_cannot_take_is_refused_in_the_page(articles, query, message):
    document, answer = _get(articles, f"/ui/articles?{query}", status=422)
    assert _text(document, "#error").startswith(message)
    assert not answer.text.lstrip().startswith("{")  # a page, not FastAPI's JSON
    assert _text(document, "header .brand") == "cascrawl"  # the whole page, with its search box


def test_an_unknown_section_is_named_with_the_known_ones(articles):
    document, _ = _get(articles, "/ui/articles?section=yw,nosuch", status=422)
    error = _text(document, "#error")
    assert error.startswith("unknown section nosuch:") and "(known: " in error and "syky" in error and "cm" in error


def test_an_article_page_shows_what_changed_between_revisions(database):
    first = _article(7, "syky", text="第一段不变。\n第二段：旧的说法。\n第三段不变。")
    _upsert(database, [first])
    second = _article(7, "syky", title="测试文章7：更正后的标题", text="第一段不变。\n第二段：新的说法。\n第三段不变。\n新增的第四段。")
    assert _upsert(database, [second]).revised == 1
    article_id = database.iter_articles().__next__().id
    document, _ = _get(database, f"/ui/articles/{article_id}")
    change = document.get_element_by_id("change-2")
    assert _text(change, "h3").startswith("Revision 1 → 2")
    assert _text(change, ".diff-title") == "title: 测试文章7：新的研究进展 → 测试文章7：更正后的标题"
    kinds = [(p.get("class"), " ".join(p.text_content().split())) for p in change.cssselect(".diff p")]
    assert kinds == [("same", "第一段不变。"), ("del", "−removed: 第二段：旧的说法。"), ("ins", "+added: 第二段：新的说法。"),
                     ("same", "第三段不变。"), ("ins", "+added: 新增的第四段。")]
    assert [d.text for d in change.cssselect("p.del del")] == ["旧"] and [i.text for i in change.cssselect("p.ins ins")][0] == "新"
    assert not document.cssselect("#raw")  # this row has no archived response


def test_the_archived_response_is_linked_only_when_the_row_has_one():
    assert pages.raw_link(SimpleNamespace(id=3, warc_file="cascrawl-00001.warc.gz")) == "/articles/3/raw"
    assert pages.raw_link(SimpleNamespace(id=3, warc_file=None)) is None
    assert pages.raw_link(SimpleNamespace(id=3)) is None  # a schema without the column


# --- the charts ---

def _svg_texts(svg: bytes, css_class: str) -> list[str]:
    root = ElementTree.fromstring(svg)
    found = []
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        if css_class in (group.get("class") or "").split():
            found.extend(text.text or "" for text in group.iter("{http://www.w3.org/2000/svg}text"))
    return found


def test_the_archive_chart_shows_every_month_even_empty_ones():
    per_month = [(2024, 11, "yw", 3), (2025, 2, "yw", 1), (2025, 2, "syky", 2)]
    months, by_section = charts.archive_table(per_month)
    assert months == [(2024, 11), (2024, 12), (2025, 1), (2025, 2)]
    assert by_section == {"syky": [0, 0, 0, 2], "yw": [3, 0, 0, 1]}
    svg = charts.archive_chart(per_month)
    assert b"2024-11 to 2025-02 (every month shown: 2 without any)" in svg
    assert _svg_texts(svg, "x") == ["2024-11", "2024-12", "2025-01", "2025-02"]  # the empty months have their place
    assert set(_svg_texts(svg, "y")) == {"0", "1", "2", "3"}  # integer ticks
    assert b"<script" not in svg


def test_the_run_charts_keep_counts_integer_and_each_measure_on_its_own_scale():
    begun = _now()
    runs_ = [{"id": number, "status": "finished", "rejects": 1 if number == 2 else 0,
              "stats": {stats_keys.ARTICLES_INSERTED: 480 * number}, "started_at": begun,
              "finished_at": begun + timedelta(seconds=65 * number)} for number in (3, 2, 1)]
    ticks = _svg_texts(charts.runs_chart(runs_), "y")
    assert ticks and all(re.fullmatch(r"\d+", tick) for tick in ticks)
    assert _svg_texts(charts.rejects_chart(runs_), "y") == ["0", "1"]  # one reject is the whole height
    durations = charts.durations_chart(runs_)
    assert b"duration (min)" in durations  # 195 s: minutes read best
    assert _svg_texts(durations, "y") == ["0 min", "1 min", "2 min", "3 min", "4 min"]


@pytest.mark.parametrize("largest,ticks", [(0, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]),
                                           (27, [0, 10, 20, 30]), (101, [0, 50, 100, 150])])
def test_count_ticks_are_integers_on_a_round_step(largest, ticks):
    assert charts.count_ticks(largest) == ticks


def test_the_palette_is_distinct_and_the_lines_differ_by_dash_too():
    assert len(set(charts.PALETTE)) == len(charts.PALETTE) >= 12
    assert len(set(charts.DASHES)) == len(charts.DASHES) >= 5  # coverage's five lines, each its own dash
    assert charts.duration_unit([5, 90]) == ("s", 1.0) and charts.duration_unit([None, 600]) == ("min", 60.0)
    assert charts.duration_unit([8000]) == ("h", 3600.0)


# --- the pure rules under the page ---

@pytest.mark.parametrize("settings,stats,expected", [
    ({"CASCRAWL_RUN_KIND": "reparse", "CASCRAWL_INCREMENTAL": True}, {}, "reparse"),
    ({"CASCRAWL_INCREMENTAL": True, "CASCRAWL_REFRESH_DAYS": 3}, {}, "refresh"),
    ({"CASCRAWL_INCREMENTAL": False, "CASCRAWL_REFRESH_DAYS": 0}, {}, "full"),
    ({"CASCRAWL_INCREMENTAL": True, "CASCRAWL_REFRESH_DAYS": 0}, {}, "incremental"),
    # runs recorded before the mode's settings were: by their stats
    ({}, {stats_keys.INCREMENTAL_KNOWN_ARTICLES: 0, stats_keys.REFRESH_REQUESTED: 0}, "incremental"),
    ({}, {stats_keys.REFRESH_REQUESTED: 0}, "full"),
    ({}, {stats_keys.REFRESH_REQUESTED: 12, stats_keys.INCREMENTAL_KNOWN_ARTICLES: 5}, "refresh"),
    ({}, {}, "unknown"),
    (None, None, "unknown"),
])
def test_the_run_mode_comes_from_the_recorded_settings_else_the_stats(settings, stats, expected):
    assert mode.run_mode(settings, stats) == expected


def test_the_walk_in_words_and_the_http_summary():
    assert mode.incremental_facts({}) == []
    assert mode.incremental_facts({stats_keys.INCREMENTAL_KNOWN_ARTICLES: 0}) == [
        "no article was stored before this run: every listing entry was new"]
    assert mode.incremental_facts({stats_keys.INCREMENTAL_KNOWN_ARTICLES: 3, stats_keys.INCREMENTAL_LATE_ENTRIES: 1,
                                   stats_keys.WALKS_INCOMPLETE: ["yw"], stats_keys.INCREMENTAL_CUT_BY_MAX_PAGES: 2}) == [
        "3 article(s) already stored were not fetched again",
        "1 late or back-dated entry found below that point, walked on",
        "2 section walk(s) cut by CASCRAWL_MAX_PAGES (the next run goes on)",
        "not walked to the end (the next run goes on): yw"]
    # A full walk knows no stored article: what it counts as late is every entry, and is not told.
    full = {stats_keys.REFRESH_REQUESTED: 0, stats_keys.INCREMENTAL_LATE_ENTRIES: 17}
    assert mode.incremental_facts(full, {"CASCRAWL_INCREMENTAL": False}) == mode.incremental_facts(full) == [
        "a full walk: every listing entry was fetched, stored before or not"]
    assert mode.incremental_facts({stats_keys.INCREMENTAL_KNOWN_ARTICLES: 27, stats_keys.REFRESH_REQUESTED: 0},
                                  {"CASCRAWL_INCREMENTAL": True, "CASCRAWL_REFRESH_DAYS": 30}) == [
        "27 article(s) already stored were not fetched again",
        "0 article(s) of the last 30 day(s) re-fetched to catch edits (refresh)"]
    assert mode.incremental_facts({stats_keys.INCREMENTAL_KNOWN_ARTICLES: 2}, {"CASCRAWL_RUN_KIND": "reparse"}) == []
    assert mode.http_summary({"downloader/response_status_count/404": 2, "downloader/response_status_count/200": "9",
                              "other": 1}) == {"200": 9, "404": 2}


@pytest.mark.parametrize("seconds,words", [(None, ""), (0.4, "0 s"), (59, "59 s"), (60, "1 min"), (185, "3 min 5 s"),
                                           (3725, "1 h 2 min"), (7200, "2 h"), (50 * 3600, "2 d 2 h")])
def test_durations_read_in_their_unit(seconds, words):
    assert mode.describe_seconds(seconds) == words


def test_text_diff_marks_the_changed_characters_and_keeps_a_line_of_context():
    old = "\n".join(["一", "二", "三", "四", "五", "六"])
    new = "\n".join(["一", "二", "三", "肆", "五", "六", "七"])
    lines = pages.text_diff(old, new)
    assert [(line["kind"], "".join(text for _, text in line["parts"])) for line in lines] == [
        ("gap", "…"), ("same", "三"), ("del", "四"), ("ins", "肆"), ("same", "五"), ("same", "六"), ("ins", "七")]
    assert pages.text_diff("同样", "同样") == []
    replaced = pages.text_diff("第二段：旧的说法。", "第二段：新的说法。")
    assert replaced[0]["parts"] == [(False, "第二段："), (True, "旧"), (False, "的说法。")]


def test_health_and_problem_severity_are_said_in_words_too():
    summary = pages.health_summary({"reason": "stale", "age_seconds": 30 * 3600, "detail": "run 4 ended …",
                                    "run_id": 4, "problems": []})
    assert summary["severity"] == "warning" and summary["line"] == "Last crawl: ok, but too old, 30 h ago"
    assert pages.health_summary({"reason": "no_run"})["line"] == "No crawl has completed yet"
    assert pages.health_summary({"reason": "database_unreachable"})["severity"] == "error"
    assert pages.problem_view({"code": "layout_alarm", "names": ["body"], "text": "body found on 40%"})["names_label"] == "fields"
    assert pages.problem_view({"code": "articles_spooled", "names": ["articles_spooled"], "text": "x"})["names"] == []
    assert pages.SEVERITY_WORDS == {"ok": ("✓", "OK"), "warning": ("⚠", "Warning"), "error": ("✖", "Error")}


# --- the reads under the page, on both backends ---

def test_the_page_reads_filter_sort_and_page_on_both_backends(db_url):  # noqa: F811
    database = Database(db_url).open()
    try:
        for number, (section, published) in enumerate([("yw", date(2025, 3, 1)), ("syky", date(2024, 5, 1)),
                                                       ("syky", date(2025, 6, 1)), ("cm", date(2023, 1, 9))], 1):
            _upsert(database, [_article(number, section, published)])
        by_date = page_reads.article_listing(database, page_reads.ArticleQuery(sort="published"), 1, 3)
        assert [article.docid - 9_000_000 for article in by_date.articles] == [3, 1, 2] and by_date.total == 4
        by_change = page_reads.article_listing(database, page_reads.ArticleQuery(), 2, 3)
        assert [article.docid - 9_000_000 for article in by_change.articles] == [1]
        bounded = page_reads.ArticleQuery(sections=("syky", "cm"), published_from=date(2024, 5, 1),
                                          published_to=date(2025, 6, 1))
        assert page_reads.article_listing(database, bounded).total == 2  # both ends included
        assert page_reads.stored_sections(database) == ["cm", "syky", "yw"]
        with pytest.raises(ValueError, match="sort: expected one of changed, published"):
            page_reads.article_listing(database, page_reads.ArticleQuery(sort="title"))

        ids = [_run(database, started=timedelta(hours=10 - number)) for number in range(5)]
        database.add_rejects([{"url": "https://www.cas.cn/yw/x.shtml", "reason": "http_404", "detail": None,
                               "seen_at": _now()}],
                             run_id=ids[3])
        second = page_reads.runs_page(database, 2, 2)
        assert second.total == 5 and [run["id"] for run in second.runs] == [ids[2], ids[1]]
        assert [run["rejects"] for run in page_reads.runs_page(database, 1, 2).runs] == [0, 1]
        assert page_reads.runs_page(database, 9, 2).runs == []
    finally:
        database.close()


def test_a_problem_kept_in_words_only_shows_no_code_and_a_status_line_is_an_error():
    dead = pages.problem_view({"code": "problem", "names": [], "text": "status interrupted: killed?"})
    assert dead["code"] is None and dead["severity"] == "error"
    old = pages.problem_view({"code": "recorded", "names": [], "text": "2 listing page(s) could not be fetched"})
    assert old["code"] is None and old["severity"] == "warning"
