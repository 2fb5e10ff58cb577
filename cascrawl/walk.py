"""A section's walk down its listing pages (newest first) in one run, and the rules that say where it
goes next, when it is over and when it is complete. Pure: no Scrapy, no database.

A walk is **complete** only when every listing page the pager announced was read, or when it met the
boundary (the first entry of the last complete walk) having read every page before it. A page that
could not be read — 404/410, 5xx after retries, not HTML, too large, no entries where entries were
expected — is *unread*: the walk goes on past it when the pager announces more pages (their articles
are fetched now), but it stays incomplete, so the boundary does not move, and the next run walks every
listing page of the section (a deep walk, below) and reads that page then.

Where an incremental walk stops: at the page that holds the boundary (plus CASCRAWL_OVERLAP_PAGES - 1
pages), unless that page holds, below the boundary entry, an entry the database does not know: a late
or back-dated article, published after the last walk but listed under older ones. Then it walks on,
page after page, until a page below the boundary holds only known entries. Late articles listed
further down (below a whole page of known ones) are found by the periodic deep walk: when the last
deep walk of a section (one that read every listing page to the end) is CASCRAWL_DEEP_WALK_DAYS old,
the run walks every listing page of it; known entries cost the listing page only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Protocol

# The request.meta key of a listing page's request: its section's walk so far (`SectionWalk.shared_state`), so
# whichever process reads the page goes on with the walk (spiders/cas_news.py; the distributed mode's middlewares).
WALK = "cascrawl_walk"


@dataclass(frozen=True, slots=True)
class Boundary:
    """What the database knows of a section's listing: the first entry of its last complete walk (url
    None: never completed) and when its last deep walk (every listing page read) ended."""

    url: str | None
    date: date | None
    deep_walked_at: datetime | None = None
    listed: bool = False  # an earlier run read this section's listing (it has a walk record)
    unread: tuple[str, ...] = ()  # listing pages the latest walk could not read


@dataclass(frozen=True, slots=True)
class WalkProgress:
    """What the spider reports about one section's walk in this run."""

    section: str
    pages: int  # listing pages reached (read or not)
    pages_total: int | None  # the pager's count, from the latest page that has one
    complete: bool  # reached the end of the listing or the boundary, every page before read
    top_url: str | None = None  # the first entry of the first page
    top_date: date | None = None
    unread: tuple[str, ...] = ()  # listing pages not read: "URL (reason)"
    to_end: bool = False  # complete, and every listing page read down to the end: a deep walk


class Entry(Protocol):
    canonical_url: str
    date: date | None


class Step(Enum):
    """What comes after a listing page."""

    NEXT = "next"  # ask for the following page
    END = "end"  # the listing ends here (no following page announced or linked)
    BOUNDARY = "boundary"  # an incremental walk met the boundary (plus overlap, nothing late): stop
    MAX_PAGES = "max_pages"  # --max-pages reached: the walk stays incomplete


def deep_walk_due(last_deep_walk: datetime | None, now: datetime, days: float) -> bool:
    """A section's walk this run must read every listing page: its last deep walk is `days` old, or it
    never had one. days <= 0: never (only --full walks everything)."""
    if days <= 0:
        return False
    return last_deep_walk is None or now - last_deep_walk >= timedelta(days=days)


def deep_walk_reason(boundary: Boundary, now: datetime, days: float) -> str | None:
    """Why this run's walk of a section must read every listing page, or None when it may stop at the
    boundary. A walk without a boundary reads every page anyway. A latest walk that left listing pages
    unread: their entries may be listed anywhere below the boundary now (and a late article found on the
    way was fetched meanwhile, so it would not lead the walk there again), so the next run reads them all."""
    if boundary.url is None:
        return None
    if boundary.unread:
        return f"the latest walk could not read {len(boundary.unread)} listing page(s)"
    if deep_walk_due(boundary.deep_walked_at, now, days):
        last = boundary.deep_walked_at
        return (f"no walk read every listing page since {last.isoformat(timespec='minutes')}" if last
                else "no walk read every listing page yet")
    return None


@dataclass
class SectionWalk:
    """One section's walk down its listing in this run."""

    section: str
    boundary: Boundary
    deep: bool = False  # walk every listing page, whatever the boundary
    pages: int = 0  # listing pages reached: the furthest page's number + 1
    pages_total: int | None = None
    top_url: str | None = None
    top_date: date | None = None
    pages_at_boundary: int = 0  # pages walked since the boundary was met (0: not met yet)
    late_entries: int = 0  # entries below the boundary the database did not know
    reached_end: bool = False  # came to the last page the pager announced
    unread: list[str] = field(default_factory=list)  # listing pages not read: "URL (reason)"
    missing: bool = False  # the section's first page is not there (404/410) and no earlier run read it
    next_requested: bool = False  # the next listing page is asked for and not handled yet
    ended: bool = False  # no further listing page will be asked for in this run

    @property
    def complete(self) -> bool:
        return ((self.reached_end or self.pages_at_boundary > 0) and not self.unread and not self.missing
                and not self.next_requested)

    # --- the rules ---

    def page_read(self, number: int, entries: Sequence[Entry], page_count: int | None, next_linked: bool,
                  known: Callable[[str], bool], *, incremental: bool, overlap_pages: int = 1,
                  max_pages: int = 0, url: str = "") -> Step:
        """Listing page `number` (0 = the first) was read: its entries, its pager's count (None: no
        pager), whether it links the following page. `known(url)`: the database holds that article."""
        self.next_requested = False
        self.pages = max(self.pages, number + 1)
        if page_count is not None:  # the latest pager counts: the listing grows and shrinks while walked
            self.pages_total = page_count
        if number == 0 and entries:
            self.top_url, self.top_date = entries[0].canonical_url, entries[0].date
        if not entries and (number > 0 or (self.pages_total or 0) > 1):
            self.unread.append(f"{url} (no article entries)")  # a gap in the listing proves nothing
        below = entries if self.pages_at_boundary else self._below_boundary(entries)
        if below is not None:
            self.pages_at_boundary += 1
            late = sum(1 for entry in below if not known(entry.canonical_url))
            self.late_entries += late
            if incremental and not self.deep and self.pages_at_boundary >= max(1, overlap_pages) and not late:
                return self._end(Step.BOUNDARY)
        return self._onwards(number, next_linked, max_pages)

    def page_unread(self, number: int, url: str, reason: str, page_count: int | None = None, *,
                    not_there: bool = False, max_pages: int = 0) -> Step:
        """Listing page `number` could not be read (`reason`, e.g. "HTTP 404"); `page_count`: the pager's
        count as the page before announced it. `not_there`: the site answered 404/410."""
        self.next_requested = False
        if number == 0 and not_there and not self.boundary.listed:
            self.missing = True  # a section the site does not have (yet): a warning, not a hole
            return self._end(Step.END)
        self.pages = max(self.pages, number + 1)
        self.unread.append(f"{url} ({reason})")
        if page_count is not None:
            self.pages_total = page_count
        return self._onwards(number, False, max_pages)

    def _onwards(self, number: int, next_linked: bool, max_pages: int) -> Step:
        following = number + 1
        if not ((self.pages_total is not None and following < self.pages_total) or next_linked):
            self.reached_end = True
            return self._end(Step.END)
        if max_pages and following >= max_pages:
            return self._end(Step.MAX_PAGES)
        return Step.NEXT

    def _end(self, step: Step) -> Step:
        self.ended = True
        return step

    def _below_boundary(self, entries: Sequence[Entry]) -> Sequence[Entry] | None:
        """The entries of this page below the boundary when the page holds the boundary entry, or (should
        that article have gone) when it holds only older entries; None when it does not meet it."""
        if self.boundary.url is None:
            return None
        for position, entry in enumerate(entries):
            if entry.canonical_url == self.boundary.url:
                return entries[position + 1:]
        cutoff = self.boundary.date
        if cutoff and entries and all(entry.date and entry.date < cutoff for entry in entries):
            return entries
        return None

    # --- reporting, sharing ---

    def progress(self) -> WalkProgress:
        complete = self.complete
        return WalkProgress(self.section, self.pages, self.pages_total, complete, self.top_url, self.top_date,
                            tuple(self.unread), complete and self.reached_end)

    def shared_state(self) -> dict:
        """The walk as plain data: carried by its next listing request, so that whichever worker of a
        distributed crawl reads that page goes on with it (cascrawl/distributed/)."""
        boundary = self.boundary
        return {"section": self.section, "boundary_url": boundary.url, "boundary_date": _iso(boundary.date),
                "deep_walked_at": _iso(boundary.deep_walked_at), "listed": boundary.listed,
                "boundary_unread": list(boundary.unread), "deep": self.deep,
                "pages": self.pages, "pages_total": self.pages_total, "top_url": self.top_url,
                "top_date": _iso(self.top_date), "pages_at_boundary": self.pages_at_boundary,
                "late_entries": self.late_entries, "reached_end": self.reached_end, "unread": list(self.unread),
                "missing": self.missing, "next_requested": self.next_requested, "ended": self.ended}

    @classmethod
    def from_state(cls, state: dict) -> SectionWalk:
        deep_walked_at = state.get("deep_walked_at")
        boundary = Boundary(state["boundary_url"], _day(state["boundary_date"]),
                            datetime.fromisoformat(deep_walked_at) if deep_walked_at else None,
                            bool(state.get("listed")), tuple(state.get("boundary_unread", ())))
        return cls(state["section"], boundary, bool(state.get("deep")), state["pages"], state["pages_total"],
                   state["top_url"], _day(state["top_date"]), state["pages_at_boundary"],
                   state.get("late_entries", 0), state["reached_end"], list(state.get("unread", [])),
                   bool(state.get("missing")), state["next_requested"], bool(state.get("ended")))


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class WalkBook:
    """The walks of one crawl, by section, owned by its crawler (`walks_of(crawler)`): the spider moves
    them, the persist step records them, the progress display and the distributed middlewares read them
    -- none of them through attributes of the spider."""

    def __init__(self) -> None:
        self.sections: list[str] = []  # the sections this crawl walks, in order
        self.base_url: str | None = None  # the site they are on (www.cas.cn or a copy), as the spider resolved it
        self.walks: dict[str, SectionWalk] = {}

    def walk(self, section: str) -> SectionWalk:
        if section not in self.walks:
            self.walks[section] = SectionWalk(section, Boundary(None, None))
        return self.walks[section]

    def begin(self, section: str, boundary: Boundary, deep: bool = False) -> SectionWalk:
        """The section's walk of this run, from what the database knows of its listing."""
        walk = self.walks[section] = SectionWalk(section, boundary, deep=deep)
        return walk

    def asking(self, section: str, number: int) -> dict:
        """The walk as the request for its listing page `number` carries it (its WALK meta). A page after
        the first is asked for now and not handled yet: until it is, the walk is not complete."""
        walk = self.walk(section)
        walk.next_requested = number > 0
        return walk.shared_state()

    def carried(self, section: str, state: dict | None) -> SectionWalk:
        """The walk a listing page's answer goes on with: the section's walk as the page's request carried it
        (`state`, its WALK meta), unless this process has it as far already (it read that page before): a
        distributed crawl's workers hand walks to each other that way. The page asked for is here: the walk
        waits for no page now."""
        walk = self.walk(section)
        if state and state["pages"] > walk.pages:
            walk = self.walks[section] = SectionWalk.from_state(state)
        walk.next_requested = False
        return walk

    def get(self, section: str | None) -> SectionWalk | None:
        return self.walks.get(section) if section is not None else None

    def progress(self) -> list[WalkProgress]:
        """Each section's walk so far (sections not begun left out), for the run record."""
        return [walk.progress() for walk in self.walks.values() if walk.pages]

    def sections_walked(self) -> int:
        """Sections whose listing walk is over in this run (end, boundary, --max-pages, missing)."""
        return sum(1 for walk in self.walks.values() if walk.ended)

    @staticmethod
    def progress_of(states: list[dict]) -> list[WalkProgress]:
        """Walks shared by the workers of a distributed crawl (their furthest states), as progress."""
        return [SectionWalk.from_state(state).progress() for state in states if state["pages"]]


def walks_of(crawler) -> WalkBook:
    """The crawl's walk book, made on first use."""
    book = getattr(crawler, "cascrawl_walks", None)
    if book is None:
        book = crawler.cascrawl_walks = WalkBook()
    return book
