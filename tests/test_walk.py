"""The walk's rules (cascrawl/walk.py), case by case, without a crawl: a listing is a list of pages, each
a list of entries, and a page can answer instead with a reason it could not be read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest

from cascrawl.db.frontier import incomplete_line
from cascrawl.db.models import SectionWalk as WalkRecord
from cascrawl.health import degraded_because, unread_listing_problems
from cascrawl.walk import Boundary, SectionWalk, Step, WalkBook, deep_walk_due, deep_walk_reason, walks_of

NEVER = Boundary(None, None)


@dataclass
class Entry:
    canonical_url: str
    date: date | None


def entry(k: int) -> Entry:
    """Article k of a section (the higher, the newer): published on day k of 2024."""
    return Entry(f"https://www.cas.cn/syky/a{k}.shtml", date(2024, 1, 1) + timedelta(days=k))


def listing(count: int, per_page: int = 10) -> list[list[Entry]]:
    """`count` articles, newest first, `per_page` to a page."""
    newest_first = [entry(k) for k in range(count, 0, -1)]
    return [newest_first[i:i + per_page] for i in range(0, count, per_page)]


def page_url(number: int) -> str:
    return "http://site/syky/" + ("" if number == 0 else f"index_{number}.shtml")


@dataclass
class Page:
    """A listing page as the site answers it: entries and the pager's count, or a reason it is unread."""

    entries: list[Entry]
    page_count: int | None
    unread: str | None = None
    not_there: bool = False


def site(pages: list[list[Entry]], **unread: str) -> list[Page]:
    """Pages with the pager's count of the listing on each; `p5="HTTP 404"`: page 5 cannot be read."""
    answered = [Page(entries, len(pages)) for entries in pages]
    for key, reason in unread.items():
        number = int(key[1:])
        answered[number] = Page([], None, reason, not_there=reason in ("HTTP 404", "HTTP 410"))
    return answered


def walk_site(walk: SectionWalk, pages: list[Page], known: set[str] = frozenset(), *, incremental: bool = True,
              overlap_pages: int = 1, max_pages: int = 0) -> tuple[list[int], Step]:
    """Drive the walk as the spider does (page 0, then wherever the rules send it): (pages asked for, last step)."""
    asked, number = [], 0
    while True:
        asked.append(number)
        page = pages[number] if number < len(pages) else Page([], None, "HTTP 404", not_there=True)
        if page.unread:
            step = walk.page_unread(number, page_url(number), page.unread, walk.pages_total,
                                    not_there=page.not_there, max_pages=max_pages)
        else:
            step = walk.page_read(number, page.entries, page.page_count, False, known.__contains__,
                                  incremental=incremental, overlap_pages=overlap_pages, max_pages=max_pages,
                                  url=page_url(number))
        if step is not Step.NEXT:
            return asked, step
        walk.next_requested = True  # as the spider's listing request does
        number += 1


def urls(pages: list[list[Entry]]) -> set[str]:
    return {e.canonical_url for page in pages for e in page}


def boundary_of(pages: list[list[Entry]], deep_walked_at: datetime | None = None) -> Boundary:
    top = pages[0][0]
    return Boundary(top.canonical_url, top.date, deep_walked_at, listed=True)


# --- a first walk (no boundary) ---

def test_a_first_walk_reads_every_page_the_pager_announced_and_is_complete_to_the_end():
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, site(listing(205)))
    assert asked == list(range(21)) and step is Step.END
    progress = walk.progress()
    assert progress.complete and progress.to_end and progress.pages == progress.pages_total == 21
    assert progress.top_url == entry(205).canonical_url and progress.unread == ()


@pytest.mark.parametrize("reason", ["HTTP 404", "HTTP 410", "HTTP 503 after retries", "not an HTML page"])
def test_a_page_missing_in_the_middle_leaves_the_walk_incomplete_and_the_walk_goes_on_past_it(reason):
    """Defect 1 of issue 19: a 404 on page 5 of 21 ended the walk as complete; 231 of 305 articles were
    never fetched by any later run."""
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, site(listing(205), p5=reason))
    assert asked == list(range(21))  # pages 6-20 are read in this run all the same
    assert not walk.complete and not walk.progress().to_end
    assert walk.unread == [f"{page_url(5)} ({reason})"]


def test_the_last_page_missing_leaves_the_walk_incomplete():
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, site(listing(205), p20="HTTP 404"))
    assert asked == list(range(21)) and step is Step.END
    assert walk.reached_end and not walk.complete and walk.unread == [f"{page_url(20)} (HTTP 404)"]


def test_an_empty_page_in_the_middle_of_the_listing_is_unread():
    pages = site(listing(50))
    pages[2] = Page([], 5)
    walk = SectionWalk("syky", NEVER)
    asked, _ = walk_site(walk, pages)
    assert asked == [0, 1, 2, 3, 4] and not walk.complete
    assert walk.unread == [f"{page_url(2)} (no article entries)"]


def test_an_empty_first_page_with_a_pager_of_more_pages_is_unread():
    pages = site(listing(30))
    pages[0] = Page([], 3)
    walk = SectionWalk("syky", NEVER)
    walk_site(walk, pages)
    assert not walk.complete and walk.unread == [f"{page_url(0)} (no article entries)"]


def test_an_empty_section_without_a_pager_is_complete_and_names_no_boundary():
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, [Page([], None)])
    assert asked == [0] and step is Step.END and walk.complete and walk.top_url is None


def test_a_first_page_that_fails_in_a_section_read_before_is_unread_and_nothing_further_is_guessed():
    walk = SectionWalk("syky", Boundary(None, None, listed=True))
    asked, step = walk_site(walk, site(listing(50), p0="HTTP 503 after retries"))
    assert asked == [0] and step is Step.END
    assert not walk.complete and walk.unread == [f"{page_url(0)} (HTTP 503 after retries)"]


def test_a_section_that_no_run_ever_read_answering_404_is_missing_not_a_hole():
    walk = SectionWalk("nosuch", NEVER)
    asked, step = walk_site(walk, site(listing(50), p0="HTTP 404"))
    assert asked == [0] and walk.missing and walk.unread == [] and not walk.complete
    listed = SectionWalk("syky", Boundary(None, None, listed=True))
    walk_site(listed, site(listing(50), p0="HTTP 404"))
    assert not listed.missing and listed.unread == [f"{page_url(0)} (HTTP 404)"]


# --- the pager changes while the listing is walked ---

def test_a_shorter_pager_on_a_later_page_ends_the_walk_there_complete():
    """Articles were withdrawn while the walk went down: page 2's pager says 3 pages, not 5."""
    pages = site(listing(50))
    for page in pages[1:]:
        page.page_count = 3
    pages[3:] = [Page([], None, "HTTP 404", not_there=True)] * 2  # the site has no page 3 any more
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, pages)
    assert asked == [0, 1, 2] and step is Step.END and walk.complete and walk.pages_total == 3


def test_a_grown_pager_on_a_later_page_takes_the_walk_to_the_new_last_page():
    """New articles published while the walk went down pushed the oldest onto a new page."""
    pages = site(listing(40))
    for page in pages[:2]:
        page.page_count = 3  # what the first pages said when they were read; page 2 says 4
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, pages)
    assert asked == [0, 1, 2, 3] and walk.complete and walk.pages_total == 4


def test_a_page_linked_by_the_pager_markup_alone_is_walked():
    walk = SectionWalk("syky", NEVER)
    step = walk.page_read(0, listing(20)[0], None, True, set().__contains__, incremental=True, url=page_url(0))
    assert step is Step.NEXT
    step = walk.page_read(1, listing(20)[1], None, False, set().__contains__, incremental=True, url=page_url(1))
    assert step is Step.END and walk.complete


# --- an incremental walk and its boundary ---

def test_an_incremental_walk_stops_at_the_page_holding_the_boundary_when_nothing_below_it_is_new():
    old = listing(200)
    now = listing(203)  # 3 new articles on top
    walk = SectionWalk("syky", boundary_of(old))
    asked, step = walk_site(walk, site(now), urls(old))
    assert asked == [0] and step is Step.BOUNDARY
    progress = walk.progress()
    assert progress.complete and not progress.to_end and progress.top_url == entry(203).canonical_url


def test_overlap_pages_walk_further_from_the_boundary():
    old = listing(200)
    walk = SectionWalk("syky", boundary_of(old))
    asked, _ = walk_site(walk, site(old), urls(old), overlap_pages=3)
    assert asked == [0, 1, 2] and walk.complete


def test_the_boundary_gone_a_page_of_only_older_entries_meets_it():
    old = listing(200)
    now = [page[:] for page in old]
    del now[0][0]  # the boundary article was withdrawn
    walk = SectionWalk("syky", boundary_of(old))
    asked, step = walk_site(walk, site(now), urls(old))
    assert asked == [0] and step is Step.BOUNDARY and walk.complete


def test_the_boundary_gone_without_a_date_walks_to_the_end():
    old = listing(50)
    now = [page[1:] if i == 0 else page for i, page in enumerate(old)]
    walk = SectionWalk("syky", Boundary(old[0][0].canonical_url, None, listed=True))
    asked, step = walk_site(walk, site(now), urls(old))
    assert asked == list(range(5)) and step is Step.END and walk.complete


def test_a_late_article_below_the_boundary_takes_the_walk_one_page_further():
    """Defect 5 of issue 19: back-dated articles listed under the boundary were never fetched."""
    old = listing(200)
    late = Entry("https://www.cas.cn/syky/late.shtml", entry(195).date)
    flat = [e for page in old for e in page]
    flat.insert(6, late)  # listed by its date, below the boundary on the first page
    now = [flat[i:i + 10] for i in range(0, len(flat), 10)]
    walk = SectionWalk("syky", boundary_of(old))
    asked, step = walk_site(walk, site(now), urls(old))
    assert asked == [0, 1] and step is Step.BOUNDARY and walk.late_entries == 1 and walk.complete


def test_late_articles_over_several_pages_are_followed_page_by_page():
    old = listing(200)
    flat = [e for page in old for e in page]
    for n, position in enumerate((3, 14, 25)):  # one on each of the first three pages
        flat.insert(position, Entry(f"https://www.cas.cn/syky/late{n}.shtml", flat[position].date))
    now = [flat[i:i + 10] for i in range(0, len(flat), 10)]
    walk = SectionWalk("syky", boundary_of(old))
    asked, _ = walk_site(walk, site(now), urls(old))
    assert asked == [0, 1, 2, 3] and walk.late_entries == 3


def test_a_late_article_below_a_whole_page_of_known_ones_waits_for_the_deep_walk():
    old = listing(200)
    flat = [e for page in old for e in page]
    flat.insert(55, Entry("https://www.cas.cn/syky/deep-late.shtml", flat[55].date))  # on page 5
    now = [flat[i:i + 10] for i in range(0, len(flat), 10)]
    shallow = SectionWalk("syky", boundary_of(old))
    asked, _ = walk_site(shallow, site(now), urls(old))
    assert asked == [0] and shallow.late_entries == 0
    deep = SectionWalk("syky", boundary_of(old), deep=True)
    asked, step = walk_site(deep, site(now), urls(old))
    assert asked == list(range(len(now))) and step is Step.END and deep.late_entries == 1
    assert deep.progress().complete and deep.progress().to_end


def test_an_unread_page_before_the_boundary_leaves_the_walk_incomplete_though_it_met_the_boundary():
    old = listing(100)
    now = listing(130)  # the boundary is on page 3 now
    walk = SectionWalk("syky", boundary_of(old))
    asked, step = walk_site(walk, site(now, p1="HTTP 404"), urls(old))
    assert asked == [0, 1, 2, 3] and step is Step.BOUNDARY
    assert walk.pages_at_boundary == 1 and not walk.complete


def test_an_unread_overlap_page_leaves_the_walk_incomplete():
    old = listing(100)
    walk = SectionWalk("syky", boundary_of(old))
    asked, _ = walk_site(walk, site(old, p1="HTTP 503 after retries"), urls(old), overlap_pages=2)
    assert asked == [0, 1, 2] and not walk.complete


def test_max_pages_cuts_the_walk_incomplete():
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, site(listing(100)), max_pages=3)
    assert asked == [0, 1, 2] and step is Step.MAX_PAGES and not walk.complete and walk.ended


def test_a_walk_waiting_for_its_next_page_is_not_complete():
    walk = SectionWalk("syky", NEVER)
    walk.page_read(0, listing(20)[0], 2, False, set().__contains__, incremental=True, url=page_url(0))
    walk.next_requested = True
    assert not walk.complete and not walk.ended


def test_a_full_run_never_stops_at_the_boundary():
    old = listing(100)
    walk = SectionWalk("syky", boundary_of(old))
    asked, step = walk_site(walk, site(old), set(), incremental=False)
    assert asked == list(range(10)) and step is Step.END and walk.progress().to_end


def test_max_pages_at_the_last_page_ends_the_walk_complete():
    """The listing's end comes before the cut: a walk that read every page is complete whatever --max-pages."""
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, site(listing(30)), max_pages=3)
    assert asked == [0, 1, 2] and step is Step.END and walk.complete and walk.progress().to_end


def test_an_unread_page_at_the_max_pages_cut_ends_the_walk_incomplete():
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, site(listing(100), p2="HTTP 503 after retries"), max_pages=3)
    assert asked == [0, 1, 2] and step is Step.MAX_PAGES and walk.ended and not walk.complete
    assert walk.unread == [f"{page_url(2)} (HTTP 503 after retries)"] and walk.pages == 3


def test_a_first_page_that_fails_in_a_section_never_read_is_a_hole_not_a_missing_section():
    """Only 404/410 say the site has no such section; a 5xx says nothing of the sort."""
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, site(listing(50), p0="HTTP 503 after retries"))
    assert asked == [0] and step is Step.END and walk.ended
    assert not walk.missing and not walk.complete and walk.unread == [f"{page_url(0)} (HTTP 503 after retries)"]


def test_an_unread_page_answers_the_request_for_it():
    walk = SectionWalk("syky", NEVER)
    walk.page_read(0, listing(30)[0], 3, False, set().__contains__, incremental=True, url=page_url(0))
    walk.next_requested = True
    assert walk.page_unread(1, page_url(1), "HTTP 404", 3, not_there=True) is Step.NEXT
    assert not walk.next_requested and walk.pages == 2 and not walk.missing and not walk.ended


def test_a_page_read_again_moves_nothing_back():
    """A listing page read twice (a distributed crawl's worker died holding it): the walk keeps how far it got,
    and the first page's top entry comes from the first page only."""
    pages = listing(30)
    walk = SectionWalk("syky", NEVER)
    walk_site(walk, site(pages))
    assert walk.pages == 3 and walk.top_url == entry(30).canonical_url
    walk.page_read(1, pages[1], 3, False, set().__contains__, incremental=True, url=page_url(1))
    assert walk.pages == 3 and walk.top_url == entry(30).canonical_url


def test_a_page_without_a_pager_keeps_the_count_an_earlier_page_announced():
    pages = site(listing(30))
    pages[1].page_count = None
    walk = SectionWalk("syky", NEVER)
    asked, step = walk_site(walk, pages)
    assert asked == [0, 1, 2] and step is Step.END and walk.pages_total == 3 and walk.complete


def test_the_boundary_entry_last_on_its_page_stops_the_walk_there():
    old = listing(200)
    now = listing(209)  # the boundary is the last entry of page 0
    walk = SectionWalk("syky", boundary_of(old))
    asked, step = walk_site(walk, site(now), urls(old))
    assert asked == [0] and step is Step.BOUNDARY and walk.pages_at_boundary == 1 and walk.complete


@pytest.mark.parametrize("first_page", [
    [Entry("https://www.cas.cn/syky/undated.shtml", None)],  # an entry without a date may be newer
    [entry(250), entry(5)],  # one entry newer than the boundary
])
def test_the_boundary_gone_a_page_not_wholly_older_does_not_meet_it(first_page):
    old = listing(50)
    walk = SectionWalk("syky", boundary_of(old))
    pages = [first_page, *listing(50)[1:]]
    asked, step = walk_site(walk, site(pages), urls(old))
    # page 0 does not meet the boundary; page 1 (entries 40..31, all older than entry 50) does
    assert asked == [0, 1] and step is Step.BOUNDARY and walk.pages_at_boundary == 1


def test_a_deep_walk_goes_past_the_boundary_and_is_complete_to_the_end():
    old = listing(50)
    walk = SectionWalk("syky", boundary_of(old), deep=True)
    asked, step = walk_site(walk, site(old), urls(old))
    assert asked == list(range(5)) and step is Step.END and walk.pages_at_boundary == 5
    assert walk.progress().complete and walk.progress().to_end


# --- the deep walk's schedule ---

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("last, days, due", [
    (None, 7, True),
    (NOW - timedelta(days=6, hours=23), 7, False),
    (NOW - timedelta(days=7), 7, True),
    (NOW - timedelta(days=30), 0, False),  # 0: never
    (None, 0, False),
    (NOW - timedelta(hours=13), 0.5, True),
])
def test_a_deep_walk_is_due_once_the_last_one_is_deep_walk_days_old(last, days, due):
    assert deep_walk_due(last, NOW, days) is due


def test_a_section_whose_latest_walk_left_pages_unread_is_walked_deep_by_the_next_run():
    """Without it: the boundary on page 0 lists a late article below it, the walk goes on to page 1, which
    answers 404, and stops at page 2. The late article is stored, so the next run would stop at page 0 and
    never read page 1 again."""
    old = listing(100)
    flat = [e for page in old for e in page]
    flat.insert(5, Entry("https://www.cas.cn/syky/late.shtml", flat[5].date))
    now = [flat[i:i + 10] for i in range(0, len(flat), 10)]
    known = urls(old)
    walk = SectionWalk("syky", boundary_of(old, NOW))
    asked, _ = walk_site(walk, site(now, p1="HTTP 404"), known)
    assert asked == [0, 1, 2] and not walk.complete
    known |= {"https://www.cas.cn/syky/late.shtml"} | {e.canonical_url for e in now[2]}
    after = Boundary(walk.boundary.url, walk.boundary.date, NOW, listed=True, unread=tuple(walk.unread))
    reason = deep_walk_reason(after, NOW + timedelta(hours=1), 7)
    assert reason == "the latest walk could not read 1 listing page(s)"
    again = SectionWalk("syky", after, deep=True)
    asked, step = walk_site(again, site(now), known)
    assert asked == list(range(len(now))) and step is Step.END and again.complete


def test_the_deep_walk_reasons():
    old = listing(20)
    assert deep_walk_reason(NEVER, NOW, 7) is None  # no boundary: every page is read anyway
    assert deep_walk_reason(boundary_of(old, NOW - timedelta(days=1)), NOW, 7) is None
    assert deep_walk_reason(boundary_of(old, NOW - timedelta(days=8)), NOW, 7) == \
        "no walk read every listing page since 2026-11-23T12:00+00:00"
    assert deep_walk_reason(boundary_of(old), NOW, 7) == "no walk read every listing page yet"
    assert deep_walk_reason(boundary_of(old), NOW, 0) is None


# --- shared between the workers of a distributed crawl ---

def test_the_walk_state_goes_through_json_and_comes_back_the_same():
    old = listing(100)
    boundary = Boundary(old[0][0].canonical_url, old[0][0].date, NOW, listed=True, unread=("u (HTTP 410)",))
    walk = SectionWalk("syky", boundary, deep=True)
    walk_site(walk, site(listing(105), p2="HTTP 404"), urls(old))
    state = json.loads(json.dumps(walk.shared_state()))
    assert SectionWalk.from_state(state) == walk


def test_a_walk_state_from_a_worker_without_the_later_fields_takes_their_defaults():
    """States carried by requests queued by an older worker (before late entries, unread pages, missing
    sections and the deep flag were shared) still make a walk."""
    state = SectionWalk("syky", NEVER).shared_state()
    for key in ("deep_walked_at", "listed", "boundary_unread", "deep", "late_entries", "unread", "missing", "ended"):
        del state[key]
    assert SectionWalk.from_state(state) == SectionWalk("syky", NEVER)


def test_the_walk_book_makes_a_walk_on_first_use_and_reports_the_begun_ones():
    book = WalkBook()
    assert book.get("syky") is None and book.get(None) is None
    walk = book.walk("syky")
    assert book.walk("syky") is walk and book.get("syky") is walk and walk.boundary == NEVER
    book.walk("yw")  # not begun: no progress, not walked
    assert book.progress() == [] and book.sections_walked() == 0
    walk_site(walk, site(listing(20)))
    assert book.progress() == [walk.progress()] and book.sections_walked() == 1
    states = [walk.shared_state(), book.walk("yw").shared_state()]
    assert WalkBook.progress_of(json.loads(json.dumps(states))) == [walk.progress()]


def test_a_walk_handed_on_by_a_request_is_taken_up_unless_this_process_is_further():
    """A distributed crawl's workers hand walks on through the listing requests (their WALK meta): the worker
    that reads page 2 goes on with the walk page 1's reader left in the request, not with its own older copy."""
    pages = listing(50)
    reader = WalkBook()
    reader.begin("syky", NEVER)
    state = reader.asking("syky", 0)
    assert state["next_requested"] is False  # the first page: nothing asked for yet
    walk = reader.carried("syky", state)
    walk.page_read(0, pages[0], 5, False, set().__contains__, incremental=True, url=page_url(0))
    state = json.loads(json.dumps(reader.asking("syky", 1)))
    assert state["next_requested"] is True and not reader.walk("syky").complete

    other = WalkBook()
    stale = other.begin("syky", NEVER)
    taken = other.carried("syky", state)
    assert taken is not stale and taken is other.get("syky")
    assert taken.pages == 1 and taken.top_url == entry(50).canonical_url and not taken.next_requested
    assert other.carried("syky", SectionWalk("syky", NEVER).shared_state()) is taken  # an older state: kept
    assert other.carried("syky", None) is taken and not taken.next_requested


def test_a_deep_walk_begins_deep():
    book = WalkBook()
    walk = book.begin("syky", boundary_of(listing(20)), deep=True)
    assert book.walk("syky") is walk and walk.deep and walk.boundary.listed


def test_each_crawler_has_one_walk_book():
    class Crawler:
        pass

    one, other = Crawler(), Crawler()
    assert walks_of(one) is walks_of(one) and walks_of(one) is not walks_of(other)


# --- what the operator reads ---

def test_the_run_health_names_every_unread_page():
    stats = {"cascrawl/walks/unread_pages": [f"section syky: {page_url(5)} (HTTP 404)"]}
    problems = unread_listing_problems(stats)
    assert problems == [f"listing page not read: section syky: {page_url(5)} (HTTP 404); the section's walk "
                        "stays unfinished and the next run reads it again"]
    assert degraded_because(problems) == "listing pages not read"
    assert degraded_because(["title found on 0% of 9 article pages"]) == "layout alarm"
    assert degraded_because([*problems, "x"]) == "layout alarm; listing pages not read"


def _record(**values) -> WalkRecord:
    defaults = {"section": "syky", "walk_run_id": 3, "walk_complete": False, "walk_pages": 21, "pages_total": 21,
                "boundary_url": None, "pages_unread": None}
    return WalkRecord(**{**defaults, **values})


def test_stats_count_an_unread_page_as_left_and_name_it():
    line = incomplete_line(_record(pages_unread=[f"{page_url(5)} (HTTP 404)"]))
    assert line == (f"backfill incomplete: 1 listing page left (of 21); 1 listing page not read "
                    f"({page_url(5)} (HTTP 404)), read again by the next run")


def test_stats_of_a_catch_up_with_unread_pages_do_not_say_it_stopped_before_the_boundary():
    line = incomplete_line(_record(boundary_url="https://www.cas.cn/syky/a1.shtml",
                                   pages_unread=[f"{page_url(n)} (HTTP 404)" for n in range(1, 6)]))
    assert line.startswith("catch-up incomplete: 5 listing pages not read (")
    assert "; and 2 more), read again by the next run" in line and "stopped after" not in line


def test_stats_of_a_complete_walk_say_nothing():
    assert incomplete_line(_record(walk_complete=True)) is None
    assert incomplete_line(_record(walk_pages=5)) == "backfill incomplete: 16 listing pages left (of 21)"
