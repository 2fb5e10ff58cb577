"""The line an operator reads about a section's walk (`cascrawl stats`, `runs show`, the operator page):
cascrawl.db.frontier.incomplete_line, pure, for every state a walk record and its run can be in. None of
them contradicts itself ("0 listing pages left" of a walk that is not complete, counts of a live walk
read as left behind)."""

from __future__ import annotations

import pytest

from cascrawl.db.frontier import incomplete_line
from cascrawl.db.models import SectionWalk as WalkRecord

LISTING = "https://www.cas.cn/syky/index_{}.shtml"
BOUNDARY = "https://www.cas.cn/syky/202606/t20260601_1.shtml"


def walk(**values) -> WalkRecord:
    defaults = {"section": "syky", "walk_run_id": 4, "walk_complete": False, "walk_pages": 3, "pages_total": 3,
                "boundary_url": None, "pages_unread": None}
    return WalkRecord(**{**defaults, **values})


def unread(*numbers: int) -> list[str]:
    return [f"{LISTING.format(number)} (HTTP 404)" for number in numbers]


@pytest.mark.parametrize("status", [None, "finished", "degraded", "running", "interrupted"])
def test_a_complete_walk_or_a_section_never_walked_says_nothing(status):
    assert incomplete_line(walk(walk_complete=True), status) is None
    assert incomplete_line(walk(walk_run_id=None, walk_pages=0, pages_total=None), status) is None


@pytest.mark.parametrize("record, line", [
    (walk(walk_pages=3), "being walked by run 4: 3 listing pages reached so far of 3"),
    (walk(walk_pages=1, pages_total=None), "being walked by run 4: 1 listing page reached so far"),
    (walk(walk_pages=2, boundary_url=BOUNDARY), "being walked by run 4: 2 listing pages reached so far of 3"),
    (walk(walk_pages=3, pages_unread=unread(1)),
     f"being walked by run 4: 3 listing pages reached so far of 3; 1 not read so far ({LISTING.format(1)} (HTTP 404))"),
])
def test_a_walk_being_walked_says_so_with_its_pages_so_far_never_what_is_left(record, line):
    assert incomplete_line(record, "running") == line


@pytest.mark.parametrize("status, tail", [
    (None, ""), ("finished", ""), ("degraded", ""),
    ("stopped", "; run 4 was stopped"), ("failed", "; run 4 failed"),
    ("interrupted", "; run 4 was interrupted (killed?)"),
])
def test_a_backfill_with_pages_left_counts_them_and_names_how_its_run_ended(status, tail):
    assert incomplete_line(walk(walk_pages=5, pages_total=21), status) == f"backfill incomplete: 16 listing pages left (of 21){tail}"
    assert incomplete_line(walk(walk_pages=20, pages_total=21), status) == f"backfill incomplete: 1 listing page left (of 21){tail}"


def test_unread_pages_count_as_left_and_are_named():
    line = incomplete_line(walk(walk_pages=21, pages_total=21, pages_unread=unread(5)), "degraded")
    assert line == (f"backfill incomplete: 1 listing page left (of 21); 1 listing page not read "
                    f"({LISTING.format(5)} (HTTP 404)), read again by the next run")
    many = incomplete_line(walk(walk_pages=21, pages_total=21, pages_unread=unread(1, 2, 3, 4, 5)), "degraded")
    assert many.startswith("backfill incomplete: 5 listing pages left (of 21); 5 listing pages not read (")
    assert many.endswith("; and 2 more), read again by the next run")


@pytest.mark.parametrize("status, why", [
    ("interrupted", "was interrupted (killed?)"), ("stopped", "was stopped"), ("failed", "failed"),
    (None, "did not prove the walk complete"), ("degraded", "did not prove the walk complete"),
])
def test_every_page_reached_but_not_complete_says_why_never_zero_left(status, why):
    line = incomplete_line(walk(walk_pages=3, pages_total=3), status)
    assert line == f"backfill incomplete: all 3 listing pages reached, but run 4 {why}; the next run walks them again"
    assert "0 listing pages left" not in line
    assert "0 listing pages left" not in incomplete_line(walk(walk_pages=5, pages_total=3), status)  # the listing shrank


@pytest.mark.parametrize("status, tail", [(None, ""), ("interrupted", "; run 4 was interrupted (killed?)")])
def test_a_walk_whose_pager_was_never_read_does_not_guess_what_is_left(status, tail):
    assert incomplete_line(walk(walk_pages=2, pages_total=None), status) == (
        f"backfill incomplete: 2 listing pages walked, how many are left is not known (no pager read){tail}")


def test_a_catch_up_stopped_before_the_boundary_says_so():
    assert incomplete_line(walk(walk_pages=2, pages_total=10, boundary_url=BOUNDARY), "stopped") == (
        "catch-up incomplete: stopped after 2 listing pages, before the last complete walk's newest entry "
        "(run 4 was stopped); the next run walks on to it")
    assert incomplete_line(walk(walk_pages=1, pages_total=None, boundary_url=BOUNDARY)) == (
        "catch-up incomplete: stopped after 1 listing page, before the last complete walk's newest entry; "
        "the next run walks on to it")


def test_a_catch_up_that_reached_the_whole_listing_says_the_boundary_entry_is_gone():
    line = incomplete_line(walk(walk_pages=3, pages_total=3, boundary_url=BOUNDARY), "interrupted")
    assert line == ("catch-up incomplete: all 3 listing pages reached without meeting the last complete walk's newest "
                    "entry (gone from the listing?), but run 4 was interrupted (killed?); the next run walks the "
                    "listing again")
    assert "stopped after" not in line


def test_a_catch_up_with_unread_pages_names_them_and_not_a_stop():
    line = incomplete_line(walk(walk_pages=3, pages_total=3, boundary_url=BOUNDARY, pages_unread=unread(1, 2)), "degraded")
    assert line == (f"catch-up incomplete: 2 listing pages not read ({LISTING.format(1)} (HTTP 404); "
                    f"{LISTING.format(2)} (HTTP 404)), read again by the next run; the next run walks down to the last "
                    "complete walk's newest entry again")
