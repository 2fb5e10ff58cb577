"""Is this run healthy? Layout-change alarms from a run's stats and the runs before it, and the listing
pages the walks could not read. Pure functions: the run record runs them at the end of every run
(cascrawl/run/healthcheck.py), and the verdict (cascrawl/run/verdict.py) decides what the problems make of it.

A redesign of www.cas.cn rarely crashes a crawler; it makes fields go missing, sections list
nothing, or every page fall to the generic extractor. These checks read the coverage the spider
counts over the article pages it fetched (before validation, so pages that get rejected count too).

Why not Spidermon's monitors: its field coverage counts only items that passed every pipeline, so
the pages a layout change makes fail validation never reach it; the checks here are a few lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from cascrawl import stats_keys

COVERED_FIELDS = ("title", "date", "body", "source")


def coverage(stats: dict) -> tuple[int, dict[str, float]]:
    """(article pages extracted, share of them with each field)."""
    pages = int(stats.get(stats_keys.COVERAGE_PAGES, 0) or 0)
    if not pages:
        return 0, {}
    return pages, {name: int(stats.get(stats_keys.coverage(name), 0) or 0) / pages for name in COVERED_FIELDS}


def coverage_record(stats: dict) -> dict | None:
    """What a run record keeps of its coverage: the pages extracted and the share with each field, plus the
    share that no CAS layout matched (the generic extractor's); None when no article page was extracted."""
    pages, shares = coverage(stats)
    if not pages:
        return None
    generic = int(stats.get(stats_keys.GENERIC_FALLBACK, 0) or 0) / pages
    return {"pages": pages, **{name: round(share, 4) for name, share in shares.items()},
            "generic_fallback": round(generic, 4)}


def describe_coverage(record: dict | None) -> str:
    """`title 100%, date 100%, body 100%, source 92%, generic fallback 0% of 27 article pages`."""
    if not record or not record.get("pages"):
        return "no article page extracted"
    shares = ", ".join(f"{name} {float(record.get(name) or 0):.0%}" for name in (*COVERED_FIELDS, "generic_fallback"))
    return f"{shares.replace('generic_fallback', 'generic fallback')} of {record['pages']} article pages"


def problem(code: str, names, text: str) -> dict:
    """One problem of a run as stored (`cascrawl/verdict/problems`): a code, the names it concerns (sections,
    fields, reasons, workers), and a line for people."""
    return {"code": code, "names": [str(name) for name in names], "text": text}


def assess(stats: dict, sections: Iterable[str], previous: list[dict], *, min_coverage: dict[str, float],
           min_pages: int, max_generic_share: float, section_min_entries: int) -> list[str]:
    """Problems found, one line each; empty when the run looks healthy."""
    return [found["text"] for found in findings(stats, sections, previous, min_coverage=min_coverage,
                                                min_pages=min_pages, max_generic_share=max_generic_share,
                                                section_min_entries=section_min_entries)]


def findings(stats: dict, sections: Iterable[str], previous: list[dict], *, min_coverage: dict[str, float],
             min_pages: int, max_generic_share: float, section_min_entries: int) -> list[dict]:
    """The problems `assess` finds, as entries (`problem`): listing_pages_unread, layout_alarm, section_empty."""
    problems = unread_listing_findings(stats)
    pages, shares = coverage(stats)
    if pages >= min_pages:
        for name, floor in min_coverage.items():
            share = shares.get(name, 0.0)
            if share < floor:
                problems.append(problem("layout_alarm", [name], f"{name} found on {share:.0%} of {pages} article "
                                        f"pages (alarm below {floor:.0%})"))
        generic = int(stats.get(stats_keys.GENERIC_FALLBACK, 0) or 0)
        if generic / pages > max_generic_share:
            problems.append(problem("layout_alarm", ["generic_fallback"], f"{generic} of {pages} article pages "
                                    "matched no CAS layout (generic extractor): the article template has probably changed"))
    for section in sections:
        entries = int(stats.get(stats_keys.section_entries(section), 0) or 0)
        if entries:
            continue
        earlier = max((int(run.get(stats_keys.section_entries(section), 0) or 0) for run in previous), default=0)
        if earlier >= section_min_entries:
            problems.append(problem("section_empty", [section], f"section {section} listed no articles, where an "
                                    f"earlier run found {earlier}: the listing template or the section's address "
                                    "has probably changed"))
    return problems


UNREAD_LISTING = "listing page not read"


def unread_listing_problems(stats: dict) -> list[str]:
    """One line per listing page the walks could not read (`cascrawl/walks/unread_pages`, set by the
    spider): its section's walk stays unfinished, and the next run reads the page again."""
    return [found["text"] for found in unread_listing_findings(stats)]


def unread_listing_findings(stats: dict) -> list[dict]:
    """`unread_listing_problems` as entries (code listing_pages_unread, names: the page's section)."""
    return [problem("listing_pages_unread", [unread_section(line)],
                    f"{UNREAD_LISTING}: {line}; the section's walk stays unfinished and the next run reads it again")
            for line in stats.get(stats_keys.WALKS_UNREAD_PAGES) or []]


def unread_section(line: str) -> str:
    """The section of an unread page's line (`section yw: URL (reason)`, the spider's)."""
    head = str(line).split(":", 1)[0]
    return head[len("section "):] if head.startswith("section ") else head


def degraded_because(problems: Iterable[str]) -> str:
    """`layout alarm`, `listing pages not read`, or both: what made a run degraded."""
    problems = list(problems)
    causes = []
    if any(not problem.startswith(UNREAD_LISTING) for problem in problems):
        causes.append("layout alarm")
    if any(problem.startswith(UNREAD_LISTING) for problem in problems):
        causes.append("listing pages not read")
    return "; ".join(causes)
