"""Re-extraction throughput: `cascrawl reparse` over an archive + database of N articles, articles/s for
--processes 1 and 2.

    .venv/bin/python scripts/bench_reparse.py                      # 3,000 articles, 2 rounds
    .venv/bin/python scripts/bench_reparse.py --articles 1000 --rounds 1

Builds, in a temporary folder, a WARC archive (one gzip member per response record, written by warcio as the
crawl's archive writer does) of N article pages of the known CAS layouts — the fixture copy's article pages
that a CAS layout parses (current, mid, old, copy), cycled, each copy under an article URL of its own — and a
SQLite database of those articles stored as a crawl stores them (tests/support/archived.py). Then, for each
process count, alternately, each on a fresh copy of that database:
- `unchanged`: today's code and settings, nothing to change (a re-extraction after an upgrade that changed
  nothing for these pages: read, parse, clean, compare, no write);
- `changed`: a new boilerplate pattern (photo credits, `…供图`) that changes some pages' text: those are
  written as new revisions.
articles/s = articles examined / the run's time once its worker processes have started (the report's
`rate`: reading the archive, parsing, cleaning, comparing, writing); with it the CPU time spent per article
(the parent's and the workers'), which the machine's other load does not change much: 2 cores / that is
the rate an idle 2-core machine allows. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cascrawl.reparse import Options, Reparse  # noqa: E402
from cascrawl.single_page import extract_page  # noqa: E402
from cascrawl.urls import parse_article_url  # noqa: E402
from tests.support.archived import Page, fixture_pages, store_archived  # noqa: E402

SITE = REPO / "fixtures" / "site"
CREDIT_RULE = {"CASCRAWL_BOILERPLATE_EXTRA_PATTERNS": json.dumps([r"[^\s]{0,40}供图"], ensure_ascii=False)}


def known_layout_pages() -> list[Page]:
    """The fixture copy's article pages that a CAS layout (not the generic extractor) parses."""
    pages = []
    for page in fixture_pages(SITE):
        stored = extract_page(page.body, page.content_type, page.url)
        if not stored.rejected and not str(stored.item.get("template") or "").startswith("generic"):
            pages.append(page)
    return pages


def copies(pages: list[Page], count: int) -> list[Page]:
    """`count` pages: the given ones cycled, each copy under its own article URL (docid + 1,000,000 × round)."""
    made = []
    for index in range(count):
        page = pages[index % len(pages)]
        ref = parse_article_url(page.url)
        docid = ref.docid + 1_000_000 * (index // len(pages) + 1)
        url = page.url.rsplit("_", 1)[0] + f"_{docid}.shtml"
        made.append(Page(url, page.body, page.content_type))
    return made


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its children that have ended (the pool's workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def measure(database: Path, archive: Path, processes: int, overrides: dict) -> tuple[float, float, int, int, float]:
    """(articles/s once the workers started, start-up seconds, examined, changed, CPU ms per article: the
    parent's and the workers', whatever else the machine runs) of one run on a fresh copy."""
    work = database.with_name(f"run-{processes}-{time.monotonic_ns()}.db")
    shutil.copy(database, work)
    cpu = cpu_seconds()
    try:
        report = Reparse(Options(database_url=f"sqlite:///{work}", archive=archive, overrides=overrides,
                                 processes=processes, heartbeat_seconds=0)).run()
    finally:
        for path in work.parent.glob(work.name + "*"):
            path.unlink()
    cpu = cpu_seconds() - cpu
    from cascrawl import stats_keys

    return (report.rate or 0.0, report.startup_seconds, report.examined, report.stats[stats_keys.REPARSE_CHANGED],
            1000 * cpu / max(1, report.examined))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", default="1,2", help="process counts to compare (default 1,2)")
    args = parser.parse_args()
    counts = [int(value) for value in args.processes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-reparse-") as folder:
        root = Path(folder)
        pages = known_layout_pages()
        started = time.perf_counter()
        store_archived(f"sqlite:///{root / 'cas.db'}", root / "warc", copies(pages, args.articles))
        archive_bytes = sum(path.stat().st_size for path in (root / "warc").iterdir())
        print(f"{args.articles} articles ({len(pages)} fixture pages of the known layouts, cycled): archive "
              f"{archive_bytes / 1e6:.1f} MB, built in {time.perf_counter() - started:.1f} s; {os.cpu_count()} cores, "
              f"load {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
        results: dict[tuple[str, int], list[float]] = {}
        for round_ in range(args.rounds):
            for case, overrides in (("unchanged", {}), ("changed", CREDIT_RULE)):
                for processes in counts:
                    rate, startup, examined, changed, cpu = measure(root / "cas.db", root / "warc", processes,
                                                                    overrides)
                    results.setdefault((case, processes), []).append(rate)
                    print(f"  round {round_ + 1} {case:<9} --processes {processes}: {rate:7.0f} articles/s "
                          f"({examined} examined, {changed} changed, {cpu:.1f} ms CPU per article, workers started "
                          f"in {startup:.2f} s; load {os.getloadavg()[0]:.2f})")
        print()
        print(f"{'case':<10} " + " ".join(f"{f'--processes {n}':>15}" for n in counts) + "   (articles/s, median)")
        for case in ("unchanged", "changed"):
            print(f"{case:<10} " + " ".join(f"{statistics.median(results[(case, n)]):15.0f}" for n in counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
