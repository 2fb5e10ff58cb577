"""Is this run healthy? Layout-change alarms from a run's stats and the runs before it. Pure functions.

A redesign of www.cas.cn rarely crashes a crawler; it makes fields go missing, sections list
nothing, or every page fall to the generic extractor. These checks read the coverage the spider
counts over the article pages it fetched (before validation, so pages that get rejected count too).

Why not Spidermon's monitors: its field coverage counts only items that passed every pipeline, so
the pages a layout change makes fail validation never reach it; the checks here are a few lines.
"""

from __future__ import annotations

from collections.abc import Iterable

COVERED_FIELDS = ("title", "date", "body", "source")


def coverage(stats: dict) -> tuple[int, dict[str, float]]:
    """(article pages extracted, share of them with each field)."""
    pages = int(stats.get("cascrawl/coverage/pages", 0) or 0)
    if not pages:
        return 0, {}
    return pages, {name: int(stats.get(f"cascrawl/coverage/{name}", 0) or 0) / pages for name in COVERED_FIELDS}


def assess(stats: dict, sections: Iterable[str], previous: list[dict], *, min_coverage: dict[str, float],
           min_pages: int, max_generic_share: float, section_min_entries: int) -> list[str]:
    """Problems found, one line each; empty when the run looks healthy."""
    problems = []
    pages, shares = coverage(stats)
    if pages >= min_pages:
        for name, floor in min_coverage.items():
            share = shares.get(name, 0.0)
            if share < floor:
                problems.append(f"{name} found on {share:.0%} of {pages} article pages (alarm below {floor:.0%})")
        generic = int(stats.get("cascrawl/extract/generic_fallback", 0) or 0)
        if generic / pages > max_generic_share:
            problems.append(f"{generic} of {pages} article pages matched no CAS layout (generic extractor): "
                            "the article template has probably changed")
    for section in sections:
        entries = int(stats.get(f"cascrawl/section/{section}/entries", 0) or 0)
        if entries:
            continue
        earlier = max((int(run.get(f"cascrawl/section/{section}/entries", 0) or 0) for run in previous), default=0)
        if earlier >= section_min_entries:
            problems.append(f"section {section} listed no articles, where an earlier run found {earlier}: "
                            "the listing template or the section's address has probably changed")
    return problems
