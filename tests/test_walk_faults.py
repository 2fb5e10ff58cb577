"""The walk under real faults, through the real Scrapy engine, on a generated section served on loopback:
a listing page that cannot be read on the first crawl (issue 19, defect 1) and late, back-dated
articles listed under the boundary (defect 5). Judged on the rows in the database and on what each
run says."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from cascrawl.db.models import Article, SectionWalk
from tests.support.fixture_site import build_large_section

from .conftest import FAST, run_cascrawl
from .loopback import CountingSite
from .test_interruption import SECTION, _walk

PER_PAGE = 10
FIRST_DOCID = 6000000  # build_large_section's


def _crawl(base: str, db_url: str, *extra: str):
    result = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", SECTION, *FAST,
                          "-s", "LOG_LEVEL=WARNING", *extra)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr[-3000:]
    return result


def _stored(db_url: str) -> dict[str, int]:
    """URL -> rows with that URL."""
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            return dict(session.execute(select(Article.url, func.count()).group_by(Article.url)).all())
    finally:
        engine.dispose()


def _each_fetched_once(site: CountingSite, urls: list[str]) -> None:
    fetched = site.article_requests()
    assert sorted(fetched) == sorted(url.removeprefix("https://www.cas.cn") for url in urls)
    assert set(fetched.values()) == {1}


# --- a listing page that cannot be read on the first crawl ---

@pytest.mark.parametrize("fault", [404, 410, 503])
def test_a_listing_page_unread_on_the_first_crawl_degrades_the_run_and_the_next_run_reads_it(tmp_path, fault):
    """index_5.shtml answers 404 / 410 / 503 (after every retry) during the first crawl only. Before the fix
    a 404 or 410 ended the walk as complete: exit 0 "ok", and every later run stopped at page 1."""
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=120, per_page=PER_PAGE)
    page5 = set(urls[5 * PER_PAGE:6 * PER_PAGE])
    db_url = f"sqlite:///{tmp_path / 'unread.db'}"
    with CountingSite(root) as site:
        if fault == 503:
            site.failing.add(f"/{SECTION}/index_5.shtml")
        else:
            site.answers[f"/{SECTION}/index_5.shtml"] = fault
        first = _crawl(site.url, db_url)
        site.failing.clear()
        site.answers.clear()
        # the walk went on past the hole: every other page's articles are in
        assert sorted(_stored(db_url)) == sorted(set(urls) - page5)
        assert first.returncode == 2, first.stdout + first.stderr[-2000:]
        reason = "HTTP 503 after retries" if fault == 503 else f"HTTP {fault}"
        assert "degraded (listing pages not read)" in first.stdout, first.stdout
        assert f"alarm: listing page not read: section {SECTION}: {site.url}/{SECTION}/index_5.shtml ({reason})" \
            in first.stdout, first.stdout
        assert f"incomplete: sections {SECTION} were not walked to their end" in first.stdout
        attempts = 3 if fault == 503 else 1  # RETRY_TIMES 2
        assert f"listing pages {11 + attempts}, articles 110)" in first.stdout, first.stdout
        walk = _walk(db_url)
        assert not walk.walk_complete and walk.boundary_url is None and walk.deep_walked_at is None
        shown = run_cascrawl("runs", "show", "1", "--db", db_url).stdout
        assert f"listing page not read: section {SECTION}: {site.url}/{SECTION}/index_5.shtml ({reason})" in shown
        assert f"not walked to the end (the next run goes on): {SECTION}" in shown, shown
        stats = run_cascrawl("stats", "--db", db_url)
        assert (f"backfill incomplete: 1 listing page left (of 12); 1 listing page not read "
                f"({site.url}/{SECTION}/index_5.shtml ({reason})), read again by the next run") in stats.stdout, \
            stats.stdout

        second = _crawl(site.url, db_url)
        assert second.returncode == 0, second.stdout + second.stderr[-2000:]
        assert "crawl run 2: ok" in second.stdout and "incomplete" not in second.stdout
        stored = _stored(db_url)
        assert sorted(stored) == sorted(urls) and set(stored.values()) == {1}
        _each_fetched_once(site, urls)
        walk = _walk(db_url)
        assert walk.walk_complete and walk.boundary_url == urls[0] and walk.pages_unread is None
        assert "incomplete" not in run_cascrawl("stats", "--db", db_url).stdout

        site.reset()  # the boundary moved: the next run reads one listing page
        third = _crawl(site.url, db_url)
        assert third.returncode == 0 and site.listing_requests() == 1 and not site.article_requests()


# --- late, back-dated articles ---

def _listing_pages(folder: Path) -> list[Path]:
    return sorted(folder.glob("index*.shtml"), key=lambda page: int(re.sub(r"\D", "", page.stem) or 0))


def publish_late(root: Path, positions: list[int]) -> list[str]:
    """Publish late articles into a section built by build_large_section: each listed at its `position`
    in the new listing (0 = the top), dated like the entry below it — older than the newest entry, so
    below the last walk's boundary. Returns their canonical URLs."""
    folder = root / SECTION
    pages = [page.read_text("utf-8") for page in _listing_pages(folder)]
    head, rest = pages[0].split('<div id="content">\n', 1)
    tail = rest.split("\n</div>", 1)[1]
    flat = [line for page in pages for line in page.split('<div id="content">\n', 1)[1].split("\n</div>", 1)[0]
            .splitlines()]
    late = []
    published = sum(1 for line in flat if re.search(r"_7\d{6}\.shtml", line))  # late ones of an earlier call
    for n, position in enumerate(sorted(positions), start=published + 1):
        below = flat[position]
        day, month, stamp, docid = re.search(r"<span>([\d-]+)</span><a href=\"\./(\d{6})/t(\d{8})_(\d+)\.shtml\"",
                                             below).groups()
        k = int(docid) - FIRST_DOCID
        name = f"t{stamp}_{7000000 + n}.shtml"
        page = (folder / month / f"t{stamp}_{docid}.shtml").read_text("utf-8").replace(f"第{k}号", f"迟到第{n}号")
        (folder / month / name).write_text(page, "utf-8")
        flat.insert(position, f'<li><span>{day}</span><a href="./{month}/{name}" title="迟到第{n}号" '
                              f'target="_blank">迟到第{n}号</a></li>')
        late.append(f"https://www.cas.cn/{SECTION}/{month}/{name}")
    count = (len(flat) + PER_PAGE - 1) // PER_PAGE
    for number in range(count):
        pager = re.sub(r"var countPage = \d+;", f"var countPage = {count};", tail)
        pager = re.sub(r"var currentPage = \d+;", f"var currentPage = {number};", pager)
        chunk = "\n".join(flat[number * PER_PAGE:(number + 1) * PER_PAGE])
        (folder / ("index.shtml" if number == 0 else f"index_{number}.shtml")).write_text(
            f'{head}<div id="content">\n{chunk}\n</div>{pager}', "utf-8")
    return late


def _a_week_later(db_url: str) -> None:
    """As if the last deep walk had ended 8 days ago (CASCRAWL_DEEP_WALK_DAYS is 7)."""
    engine = create_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            walk = session.get(SectionWalk, SECTION)
            walk.deep_walked_at = walk.deep_walked_at - timedelta(days=8)
    finally:
        engine.dispose()


def test_late_back_dated_articles_are_found_by_the_next_run_or_by_the_deep_walk(tmp_path):
    """16 back-dated articles listed just under the boundary (pages 1-4) and 2 further down (pages 8 and 9),
    below whole pages of known entries. The next run walks on while pages below the boundary list unknown
    entries and finds the 16; the deep walk, due CASCRAWL_DEEP_WALK_DAYS after the last one, finds the
    other 2. Before the fix the walk stopped at page 1: 15 of 16 were never fetched, nor the 2."""
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=100, per_page=PER_PAGE)
    db_url = f"sqlite:///{tmp_path / 'late.db'}"
    with CountingSite(root) as site:
        assert _crawl(site.url, db_url).returncode == 0
        first_deep = _walk(db_url).deep_walked_at
        assert first_deep is not None  # a first crawl that read every page is a deep walk
        near = publish_late(root, list(range(2, 34, 2)))
        far = publish_late(root, [78, 88])
        assert len(near) == 16

        site.reset()
        result = _crawl(site.url, db_url)
        assert result.returncode == 0, result.stdout + result.stderr[-2000:]
        assert site.listing_requests() == 5  # pages 1-4 list late articles, page 5 only known ones
        assert set(_stored(db_url)) == set(urls) | set(near)

        site.reset()
        _crawl(site.url, db_url)  # within the week: no deep walk, nothing more found
        assert site.listing_requests() == 1 and set(_stored(db_url)) == set(urls) | set(near)

        _a_week_later(db_url)
        site.reset()
        deep = _crawl(site.url, db_url)
        assert deep.returncode == 0, deep.stdout + deep.stderr[-2000:]
        assert site.listing_requests() == 12  # every page of the listing (118 entries)
        stored = _stored(db_url)
        assert set(stored) == set(urls) | set(near) | set(far) and set(stored.values()) == {1}
        assert sorted(site.article_requests()) == sorted(url.removeprefix("https://www.cas.cn") for url in far)
        assert _walk(db_url).deep_walked_at > first_deep

        site.reset()
        _crawl(site.url, db_url)  # deep-walked just now: back to one listing page
        assert site.listing_requests() == 1 and not site.article_requests()


def test_a_page_unread_under_the_boundary_is_read_by_the_next_run_though_the_late_ones_above_it_are_stored(tmp_path):
    """Late articles lead the walk past the boundary; the page after them answers 404 once. The next run
    must not stop at page 1 (whose late articles it now holds): it walks every page and reads that one."""
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=60, per_page=PER_PAGE)
    db_url = f"sqlite:///{tmp_path / 'unread-late.db'}"
    with CountingSite(root) as site:
        assert _crawl(site.url, db_url).returncode == 0
        late = publish_late(root, [3, 7, 14, 23, 34])  # listing pages 1, 2, 3 (the one that fails) and 4
        site.answers[f"/{SECTION}/index_2.shtml"] = 404
        first = _crawl(site.url, db_url)
        assert first.returncode == 2 and f"{SECTION}/index_2.shtml (HTTP 404)" in first.stdout, first.stdout
        assert set(_stored(db_url)) == set(urls) | set(late[:3]) | set(late[4:])  # page 4's, found past the hole
        site.answers.clear()
        site.reset()
        second = _crawl(site.url, db_url)
        assert second.returncode == 0, second.stdout + second.stderr[-2000:]
        assert site.listing_requests() == 7  # every page: the deep walk an unread page calls for
        stored = _stored(db_url)
        assert set(stored) == set(urls) | set(late) and set(stored.values()) == {1}
        assert sorted(site.article_requests()) == [late[3].removeprefix("https://www.cas.cn")]


def test_deep_walk_days_0_never_walks_deeper_than_the_boundary(tmp_path):
    root = tmp_path / "site"
    urls = build_large_section(root, SECTION, count=60, per_page=PER_PAGE)
    db_url = f"sqlite:///{tmp_path / 'nodeep.db'}"
    with CountingSite(root) as site:
        assert _crawl(site.url, db_url).returncode == 0
        far = publish_late(root, [45])
        _a_week_later(db_url)
        site.reset()
        assert _crawl(site.url, db_url, "-s", "CASCRAWL_DEEP_WALK_DAYS=0").returncode == 0
        assert site.listing_requests() == 1 and set(_stored(db_url)) == set(urls)
        site.reset()
        assert _crawl(site.url, db_url).returncode == 0  # the default, 7 days: the deep walk is due
        assert site.listing_requests() == 7 and set(_stored(db_url)) == set(urls) | set(far)
        assert datetime.now(timezone.utc) - _walk(db_url).deep_walked_at < timedelta(minutes=5)
