"""Crawl throughput: the full `cascrawl crawl` against a bare Scrapy spider on the same loopback copy.

    make bench-crawl                                   # 3,000 articles, two rounds each, RSS at 500 and 5,000
    .venv/bin/python scripts/bench_crawl.py --articles 1000 --rounds 1 --rss-sizes 300,1000
    .venv/bin/python scripts/bench_crawl.py --articles 1000 --rounds 3 --archive-ab   # WARC archive on vs off

Generates a CAS-shaped section of N articles (tests.support.fixture_site.build_large_section, 20 to a
listing page, every date in the past), serves it on 127.0.0.1, then runs, alternately and each in a
process of its own: the bare spider (scripts/bare_spider.py: the same listing and article URLs,
nothing done with the pages), the full `cascrawl crawl` into a fresh SQLite file (extraction,
cleaning, storage, full-text index), and the bare spider again with cascrawl's own item-processing
settings (CONCURRENT_ITEMS=1, SCRAPER_SLOT_MAX_ACTIVE_SIZE=500000: Scrapy's CONCURRENT_ITEMS=100 costs a
bare spider too, so the second ratio is what cascrawl's own work costs). Politeness off for all (no
delay, no AutoThrottle, the same concurrency). Then the peak RSS of `cascrawl crawl` at two sizes (VmHWM read from /proc while it
runs), and the storage rate of a first insert into SQLite (scripts/bench_storage.py's articles).

--archive-ab: instead, `cascrawl crawl` with the WARC archive (the default) against the same with
`-s CASCRAWL_WARC=False`, alternately, and the archive's bytes per 1,000 articles stored.

pages/s = responses / the crawl's own elapsed time (Scrapy's elapsed_time_seconds: from the spider
opening to its closing, the last database write included; process start-up and the schema migration
excluded, for both). Prints a table; asserts nothing. The machine's load (1-minute average) is printed
with each run: both sides share it, since the runs alternate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cascrawl.db import Database, reads  # noqa: E402
from tests.support.fixture_site import build_large_section, serve_site  # noqa: E402
import cascrawl.settings as project_settings  # noqa: E402
from tests.support.procmem import PeakMemory  # noqa: E402

SECTION = "syky"
POLITENESS_OFF = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ROBOTSTXT_OBEY=True",
                  "-s", "LOG_LEVEL=WARNING"]


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def build_site(root: Path, count: int) -> Path:
    """A copy of one section with `count` articles, the newest published a week ago."""
    first_day = date.today() - timedelta(days=count + 7)
    build_large_section(root, SECTION, count=count, per_page=20, first_day=first_day)
    return root


def run_measured(command: list[str], log: Path) -> tuple[int, float, int, float, float]:
    """(exit code, wall seconds, peak RSS in kB of the child and its own children — the extraction workers —,
    CPU seconds of the child and its children, CPU seconds of this process — the site's server — meanwhile).
    The CPU times come from wait4, whose ru_maxrss is not used (see tests/support/procmem.py)."""
    started = time.perf_counter()
    server_cpu = time.process_time()
    with open(log, "w") as output:
        child = subprocess.Popen(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT, env=os.environ.copy())
    memory = PeakMemory(child.pid)  # the crawler, and its extraction workers
    status, usage = None, None
    while status is None:
        memory.sample()
        pid, wait_status, rusage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            status, usage = os.waitstatus_to_exitcode(wait_status), rusage
            child.returncode = status
        else:
            time.sleep(0.05)
    return (status, time.perf_counter() - started, memory.kb, usage.ru_utime + usage.ru_stime,
            time.process_time() - server_cpu)


class Run:
    def __init__(self, who: str, stats: dict, measured: tuple, stored: int | None = None):
        self.who, self.stats, self.stored = who, stats, stored
        _, self.wall, self.peak_kb, self.cpu, self.server_cpu = measured
        self.load = load()

    @property
    def responses(self) -> int:
        return int(self.stats.get("response_received_count", 0))

    @property
    def elapsed(self) -> float:
        return float(self.stats["elapsed_time_seconds"])

    @property
    def pages_per_second(self) -> float:
        return self.responses / self.elapsed


# cascrawl's own item-processing settings (cascrawl/settings.py), given to the second bare spider: what is
# left of the gap is what cascrawl's work costs, not Scrapy's defaults.
TUNED = [argument for name in ("CONCURRENT_ITEMS", "SCRAPER_SLOT_MAX_ACTIVE_SIZE")
         for argument in ("-s", f"{name}={getattr(project_settings, name)}")]


def bare_run(base: str, scratch: Path, settings: list[str], who: str = "bare Scrapy") -> Run:
    stats_path = scratch / "bare-stats.json"
    measured = run_measured([sys.executable, str(REPO / "scripts" / "bare_spider.py"), base, SECTION,
                             str(stats_path), *settings], scratch / "bare.log")
    if measured[0] != 0:
        raise SystemExit(f"the bare spider failed ({measured[0]}):\n{(scratch / 'bare.log').read_text()[-3000:]}")
    return Run(who, json.loads(stats_path.read_text()), measured)


def cascrawl_run(base: str, scratch: Path, settings: list[str], name: str) -> Run:
    db_url = f"sqlite:///{scratch / f'{name}.db'}"
    log = scratch / f"{name}.log"
    measured = run_measured([sys.executable, "-m", "cascrawl", "crawl", "--base-url", base, "--db", db_url,
                             "--section", SECTION, *settings], log)
    if measured[0] not in (0, 2):
        raise SystemExit(f"cascrawl crawl failed ({measured[0]}):\n{log.read_text()[-3000:]}")
    database = Database(db_url)
    try:
        stats = reads.get_run(database)["stats"]
        stored = database.count_articles()
    finally:
        database.close()
    return Run("cascrawl", stats, measured, stored)


def storage_rate(count: int, scratch: Path) -> tuple[float, float, int]:
    """Articles/s of a first insert of `count` synthetic articles into a fresh SQLite file, the same with
    the full-text index brought up to date at the end (as a crawl's end does), and how many of three
    probes search finds then (by their unique number)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from bench_storage import synthetic_articles, timed_upserts

    rows = synthetic_articles(count)
    database = Database(f"sqlite:///{scratch / 'storage.db'}").open()
    try:
        seconds, _, _ = timed_upserts(database, rows, 100)
        started = time.perf_counter()
        database.sync_search()
        indexed = seconds + time.perf_counter() - started
        found = sum(1 for n in (0, count // 3, count - 1) if database.search(f"（编号{n}）"))
    finally:
        database.close()
    return count / seconds, count / indexed, found


def archive_ab(args, cascrawl_settings: list[str]) -> int:
    """cascrawl with the archive against cascrawl without it, alternately; the archive's size."""
    from cascrawl import stats_keys

    with tempfile.TemporaryDirectory(prefix="cascrawl-bench-") as tmp:
        scratch = Path(tmp)
        site = build_site(scratch / "site", args.articles)
        runs: list[tuple[str, Run]] = []
        with serve_site(site) as base:
            print(f"archive A/B: {args.articles:,} articles served at {base}, concurrency {args.concurrency} per host, "
                  f"{args.rounds} rounds")
            for number in range(args.rounds):
                for who, extra in (("archive on", []), ("archive off", ["-s", "CASCRAWL_WARC=False"])):
                    run = cascrawl_run(base, scratch, [*cascrawl_settings, *extra], f"warc{number}{len(extra)}")
                    runs.append((who, run))
                    archived = int(run.stats.get(stats_keys.WARC_BYTES) or 0)
                    print(f"  round {number + 1} {who:<12} {run.responses:>6} responses in {run.elapsed:6.1f} s "
                          f"= {run.pages_per_second:6.1f} pages/s   (CPU {run.cpu:5.1f} s, {run.stored:,} stored, "
                          f"archive {archived / 1e6:6.2f} MB)   load {run.load}")
    on = [run.pages_per_second for who, run in runs if who == "archive on"]
    off = [run.pages_per_second for who, run in runs if who == "archive off"]
    sizes = [(int(run.stats.get(stats_keys.WARC_BYTES) or 0), run.stored, run.responses)
             for who, run in runs if who == "archive on"]
    archived, stored, responses = sizes[-1]
    print()
    print("| figure | archive on | archive off | ratio |")
    print("|---|---|---|---|")
    print(f"| pages/s, {args.articles:,}-article section (median of {args.rounds}) | {statistics.median(on):,.0f} "
          f"({', '.join(f'{value:,.0f}' for value in on)}) | {statistics.median(off):,.0f} "
          f"({', '.join(f'{value:,.0f}' for value in off)}) | **{statistics.median(on) / statistics.median(off):.3f}×** |")
    print(f"| archive size | {archived / 1e6:,.2f} MB for {responses:,} responses ({stored:,} articles): "
          f"{archived / max(stored, 1) * 1000 / 1e6:,.1f} MB per 1,000 articles | — | — |")
    print(f"\nload after: {load()}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=3000, help="articles of the A/B site (default 3,000)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side, alternating (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="CONCURRENT_REQUESTS_PER_DOMAIN of both (default 8)")
    parser.add_argument("--rss-sizes", default="500,5000", help="two site sizes for the peak RSS of cascrawl ('' = skip)")
    parser.add_argument("--storage-articles", type=int, default=5000, help="first-insert rate on SQLite (0 = skip)")
    parser.add_argument("--archive-ab", action="store_true",
                        help="cascrawl with the WARC archive against cascrawl with CASCRAWL_WARC=False (no bare spider)")
    parser.add_argument("-s", dest="cascrawl_settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for cascrawl's runs only, e.g. -s CASCRAWL_EXTRACT_PROCESSES=0")
    args = parser.parse_args()
    settings = [*POLITENESS_OFF, "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={args.concurrency}",
                "-s", f"CONCURRENT_REQUESTS={max(16, args.concurrency)}"]
    cascrawl_settings = [*settings, "-s", "CASCRAWL_RETRY_BACKOFF_BASE=0"]
    for pair in args.cascrawl_settings:
        cascrawl_settings += ["-s", pair]

    print(f"machine: {os.cpu_count()} cores, load {load()} (1, 5, 15 min)")
    if args.archive_ab:
        return archive_ab(args, cascrawl_settings)
    with tempfile.TemporaryDirectory(prefix="cascrawl-bench-") as tmp:
        scratch = Path(tmp)
        site = build_site(scratch / "site", args.articles)
        runs: list[Run] = []
        with serve_site(site) as base:
            print(f"A/B: {args.articles:,} articles ({(args.articles + 19) // 20} listing pages) served at {base}, "
                  f"concurrency {args.concurrency} per host, {args.rounds} rounds")
            for number in range(args.rounds):
                for run in (bare_run(base, scratch, settings),
                            cascrawl_run(base, scratch, cascrawl_settings, f"ab{number}"),
                            bare_run(base, scratch, [*settings, *TUNED], "bare, tuned")):
                    runs.append(run)
                    print(f"  round {number + 1} {run.who:<12} {run.responses:>6} responses in {run.elapsed:6.1f} s "
                          f"= {run.pages_per_second:6.1f} pages/s   (process {run.wall:5.1f} s, CPU {run.cpu:5.1f} s, "
                          f"server CPU {run.server_cpu:4.1f} s, peak RSS "
                          f"{run.peak_kb / 1024:5.0f} MB{'' if run.stored is None else f', {run.stored:,} stored'})"
                          f"   load {run.load}")
        rss = []
        for size in [int(value) for value in args.rss_sizes.split(",") if value.strip()]:
            site = build_site(scratch / f"site{size}", size)
            with serve_site(site) as base:
                run = cascrawl_run(base, scratch, cascrawl_settings, f"rss{size}")
            rss.append((size, run))
            print(f"  RSS {size:>6,} articles: peak {run.peak_kb / 1024:5.0f} MB, {run.stored:,} stored, "
                  f"{run.pages_per_second:6.1f} pages/s   load {run.load}")
        storage = storage_rate(args.storage_articles, scratch) if args.storage_articles else None

    bare = [run.pages_per_second for run in runs if run.who == "bare Scrapy"]
    tuned = [run.pages_per_second for run in runs if run.who == "bare, tuned"]
    full = [run.pages_per_second for run in runs if run.who == "cascrawl"]
    stored = [run.stored for run in runs if run.who == "cascrawl"]
    print()
    print("| figure | cascrawl | bare Scrapy | ratio |")
    print("|---|---|---|---|")
    print(f"| pages/s, {args.articles:,}-article section (median of {args.rounds}) | {statistics.median(full):,.0f} "
          f"({', '.join(f'{value:,.0f}' for value in full)}) | {statistics.median(bare):,.0f} "
          f"({', '.join(f'{value:,.0f}' for value in bare)}) | **{statistics.median(full) / statistics.median(bare):.2f}×** |")
    print(f"| the same, against the bare spider given cascrawl's CONCURRENT_ITEMS=1 and SCRAPER_SLOT_MAX_ACTIVE_SIZE "
          f"| {statistics.median(full):,.0f} | {statistics.median(tuned):,.0f} "
          f"({', '.join(f'{value:,.0f}' for value in tuned)}) | {statistics.median(full) / statistics.median(tuned):.2f}× |")
    print(f"| articles stored (of {args.articles:,}) | {', '.join(f'{value:,}' for value in stored)} | — | — |")
    if len(rss) == 2:
        (small, first), (large, second) = rss
        print(f"| peak RSS, {small:,} → {large:,} articles | {first.peak_kb / 1024:,.0f} → {second.peak_kb / 1024:,.0f} MB "
              f"| — | {second.peak_kb / first.peak_kb:.2f}× |")
    if storage:
        rate, indexed, found = storage
        print(f"| SQLite first insert, {args.storage_articles:,} articles, batches of 100 | {rate:,.0f} articles/s; "
              f"{indexed:,.0f}/s with the search index brought up to date (search finds {found} of 3 probes) | — | — |")
    print(f"\nload after: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
