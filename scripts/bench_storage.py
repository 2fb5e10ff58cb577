"""Storage benchmark: batched upsert throughput on SQLite and PostgreSQL, the cost of a re-crawl, reactor stalls.

    .venv/bin/python scripts/bench_storage.py                      # 10,000 articles, batches of 100
    .venv/bin/python scripts/bench_storage.py --articles 2000 --batch-size 500 --no-postgres
    .venv/bin/python scripts/bench_storage.py --articles 3000 --no-sqlite --no-reactor   # PostgreSQL alone

For each backend, on a fresh database (a temporary SQLite file; a throw-away PostgreSQL database on
the server of CASCRAWL_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres):

1. first crawl: N synthetic articles (Chinese text of about 1,500 characters each) upserted in batches,
   then the full-text index brought up to date, as a crawl does when it closes (Database.sync_search);
2. re-crawl, nothing changed: the same N again (only last_seen_at moves);
3. re-crawl, 10% changed: revisions archived; then the index brought up to date (PostgreSQL: the changed
   texts; SQLite's triggers update its index as the rows change);
4. reactor: the same N items pushed through the real PersistPipeline under a running Twisted reactor,
   and the longest gap between 5 ms reactor ticks, against flushing inline (in the reactor thread).

Prints articles/s and milliseconds; nothing is asserted (tests check behaviour, this measures speed).
"""

from __future__ import annotations

import argparse
import gc
import inspect
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cascrawl.db import Database  # noqa: E402
from cascrawl.redact import safe_url  # noqa: E402
from cascrawl.text import content_hash  # noqa: E402

BEIJING = timezone(timedelta(hours=8))
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def sentence_pool() -> list[str]:
    """Real sentences of the fixture copy of www.cas.cn, so the characters are those of real articles."""
    import json

    pool = []
    for path in (REPO / "fixtures" / "site").rglob("t*.expected.json"):
        text = json.loads(path.read_text(encoding="utf-8"))["text"]
        pool.extend(part + "。" for line in text.splitlines() for part in line.split("。") if len(part) > 8)
    return pool


RARE = "嫦娥七号月球南极着陆"  # in one article only: what a search usually looks for


def synthetic_articles(count: int, seed: int = 5, text_chars: int = 1500) -> list[dict]:
    rng = random.Random(seed)
    pool = sentence_pool()
    sections = ["yw", "sygz", "yx", "syky", "cm", "gzdt"]
    articles = []
    for n in range(count):
        paragraphs, length = [], 0
        while length < text_chars:
            paragraph = "".join(rng.choice(pool) for _ in range(rng.randint(2, 5)))
            paragraphs.append(paragraph)
            length += len(paragraph)
        text = "\n".join(paragraphs) + f"\n（编号{n}）" + (RARE if n == count // 2 else "")
        day = date(2015, 1, 1) + timedelta(days=n % 4000)
        section = sections[n % len(sections)]
        docid = 4000000 + n
        url = f"https://www.cas.cn/{section}/{day:%Y%m}/t{day:%Y%m%d}_{docid}.shtml"
        title = rng.choice(pool)[:30] + f"（{n}）"
        articles.append({
            "url": url, "fetched_url": url, "docid": docid, "section": section, "title": title,
            "published_date": day, "published_at": datetime(day.year, day.month, day.day, 9, 30, tzinfo=BEIJING),
            "source": "中国科学院", "author": None, "editor": "编辑", "text": text,
            "html": "".join(f"<p>{p}</p>" for p in paragraphs),
            "attachments": [], "images": [{"url": f"https://www.cas.cn/{section}/{day:%Y%m}/W{docid}.jpg", "caption": None}],
            "content_hash": content_hash(title, text), "script": "simplified", "template": "current",
            "provenance": {"title": "meta:ArticleTitle", "date": "meta:PubDate", "text": "dom:TRS_Editor"},
        })
    return articles


def batches(rows: list[dict], size: int):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def timed_upserts(database: Database, rows: list[dict], batch_size: int) -> tuple[float, list[float], dict]:
    seen_at = datetime.now(timezone.utc)
    per_batch, totals = [], {"inserted": 0, "revised": 0, "refreshed": 0, "unchanged": 0}
    started = time.perf_counter()
    for batch in batches(rows, batch_size):
        t0 = time.perf_counter()
        result = database.upsert_articles(batch, seen_at=seen_at)
        per_batch.append(time.perf_counter() - t0)
        for key in totals:
            totals[key] += getattr(result, key)
    return time.perf_counter() - started, per_batch, totals


def report(label: str, count: int, seconds: float, per_batch: list[float], totals: dict) -> None:
    what = ", ".join(f"{value} {key}" for key, value in totals.items() if value)
    print(f"  {label:<28} {count / seconds:>9,.0f} articles/s   {seconds:6.2f} s   "
          f"batch median {statistics.median(per_batch) * 1000:6.1f} ms, max {max(per_batch) * 1000:6.1f} ms   ({what})")


def sync_search(database: Database, count: int, upsert_seconds: float) -> None:
    """What a crawl does as it closes: the full-text index brought up to date (the articles stored, or whose
    text changed, since the last sync)."""
    started = time.perf_counter()
    indexed = database.sync_search()
    if indexed:
        synced = time.perf_counter() - started
        print(f"  {'+ full-text index after it':<28} {indexed / synced:>9,.0f} articles/s   {synced:6.2f} s   "
              f"({indexed:,} indexed; the upserts and the index together: {count / (upsert_seconds + synced):,.0f} articles/s)")


def bench_backend(name: str, url: str, rows: list[dict], batch_size: int, search_index: bool = True) -> None:
    print(f"\n{name}: {safe_url(url)}" + ("" if search_index else "   WITHOUT the full-text index (for comparison)"))
    database = Database(url).open()
    if not search_index:
        from cascrawl.db import fulltext

        with database.engine.begin() as connection:
            fulltext.drop_sqlite_fts(connection)
    try:
        seconds, per_batch, totals = timed_upserts(database, rows, batch_size)
        report("first crawl (all new)", len(rows), seconds, per_batch, totals)
        sync_search(database, len(rows), seconds)
        seconds, per_batch, totals = timed_upserts(database, rows, batch_size)
        report("re-crawl, nothing changed", len(rows), seconds, per_batch, totals)
        sync_search(database, len(rows), seconds)
        changed = [dict(row, text=row["text"] + "\n更正。", content_hash=content_hash(row["title"], row["text"] + "\n更正。"))
                   if index % 10 == 0 else row for index, row in enumerate(rows)]
        seconds, per_batch, totals = timed_upserts(database, changed, batch_size)
        report("re-crawl, 10% changed", len(rows), seconds, per_batch, totals)
        sync_search(database, len(rows), seconds)  # PostgreSQL: the changed texts (SQLite: its triggers did it)
        for query in (RARE, RARE[:2], "脑机接口"):  # rare (index), short (LIKE scan), in 40% of the synthetic texts
            started = time.perf_counter()
            hits = database.search(query)
            print(f"  search({query!r}){' ' * (24 - 2 * len(query))}{(time.perf_counter() - started) * 1000:9.1f} ms"
                  f"    ({len(hits)} shown of {database.count_articles():,} articles)")
    finally:
        database.close()


def reactor_stalls(targets: list[tuple[str, str]], rows: list[dict], batch_size: int) -> None:
    """Longest reactor stall while storing `rows`: PersistPipeline (flush in its thread) vs flushing inline."""
    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    import asyncio

    from scrapy.utils.test import get_crawler
    from twisted.internet import reactor, task

    from cascrawl.pipelines.persist import PersistPipeline

    results: list[str] = []

    async def measure(name: str, url: str, threaded: bool) -> None:
        gaps, last = [], [time.perf_counter()]

        def tick():
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        ticker = task.LoopingCall(tick)

        def start_ticking():  # after opening the database (migrations), which happens before a crawl fetches
            last[0] = time.perf_counter()
            ticker.start(0.005)
            return time.perf_counter()

        if threaded:
            crawler = get_crawler(settings_dict={"CASCRAWL_DATABASE_URL": url, "CASCRAWL_DB_BATCH_SIZE": batch_size,
                                                 "CASCRAWL_DB_FLUSH_SECONDS": 0})
            pipeline = PersistPipeline.from_crawler(crawler)
            pipeline.open_spider()
            started = start_ticking()
            for row in rows:
                result = pipeline.process_item(dict(row))
                if inspect.isawaitable(result):
                    await result
                else:
                    await asyncio.sleep(0)  # as between two responses: the reactor runs
            await pipeline.close_spider()
            await pipeline.spider_closed("finished")
        else:
            database = Database(url).open()
            started = start_ticking()
            pending = []
            for row in rows:
                pending.append(row)
                if len(pending) >= batch_size:
                    database.upsert_articles(pending)  # blocks the reactor thread
                    pending = []
                await asyncio.sleep(0)
            database.upsert_articles(pending)
            database.close()
        seconds = time.perf_counter() - started
        ticker.stop()
        stall = (max(gaps) - 0.005) * 1000
        how = "pipeline, flush in thread" if threaded else "flush inline in reactor"
        results.append(f"  {name:<11} {how:<27} {len(rows) / seconds:>9,.0f} articles/s   longest reactor stall {stall:7.1f} ms")

    async def run_all():
        try:
            for name, make_url in targets:
                for threaded in (False, True):
                    try:
                        await measure(name, make_url(), threaded)
                    except Exception as error:  # said in the table, not lost in an unhandled Deferred
                        results.append(f"  {name:<11} {'in thread' if threaded else 'inline'}: failed: {error!r}")
        finally:
            reactor.stop()

    reactor.callWhenRunning(lambda: deferred_from_coro(run_all()))
    reactor.run()
    print(f"\nreactor (5 ms ticks; batches of {batch_size}; a fresh database each):")
    print("\n".join(results))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=100, help="articles per upsert (CASCRAWL_DB_BATCH_SIZE)")
    parser.add_argument("--text-chars", type=int, default=1500, help="text length of each article (default 1500)")
    parser.add_argument("--postgres", default=os.environ.get("CASCRAWL_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
                        help="PostgreSQL server URL (a throw-away database is made there)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-reactor", action="store_true", help="skip the reactor stall measurement")
    args = parser.parse_args()

    rows = synthetic_articles(args.articles, text_chars=args.text_chars)
    # The benchmark holds all N articles in memory (a crawl holds one batch): without this, full garbage
    # collections rescanning them stall whichever thread triggers them for ~150 ms, a pause that is the
    # benchmark's own, not the storage's.
    gc.collect()
    gc.freeze()
    average = sum(len(row["text"]) for row in rows) / len(rows)
    print(f"{len(rows):,} synthetic articles, text {average:,.0f} characters on average, batches of {args.batch_size}")

    with tempfile.TemporaryDirectory() as scratch:
        server = None
        if not args.no_postgres:
            sys.path.insert(0, str(REPO / "tests"))
            from db_backends import PostgresServer

            server = PostgresServer(args.postgres)
            try:
                server.check()
            except Exception as error:
                print(f"\nPostgreSQL skipped: {safe_url(args.postgres)} not usable ({str(error).splitlines()[0]})")
                server = None
        try:
            if not args.no_sqlite:
                bench_backend("SQLite", f"sqlite:///{Path(scratch) / 'bench.db'}", rows, args.batch_size)
                bench_backend("SQLite", f"sqlite:///{Path(scratch) / 'bench-no-fts.db'}", rows, args.batch_size,
                              search_index=False)
            if server:
                bench_backend("PostgreSQL", server.create_database(), rows, args.batch_size)
            if not args.no_reactor:
                counter = iter(range(1000))
                targets = [] if args.no_sqlite else [
                    ("SQLite", lambda: f"sqlite:///{Path(scratch) / f'reactor{next(counter)}.db'}")]
                if server:
                    targets.append(("PostgreSQL", server.create_database))
                reactor_stalls(targets, rows, args.batch_size)
        finally:
            if server:
                server.drop_leftovers()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
