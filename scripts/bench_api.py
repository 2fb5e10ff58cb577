"""Read API load benchmark: `cascrawl serve` on a free loopback port, driven by a real HTTP client (aiohttp).

    .venv/bin/python -m pip install -e '.[bench]'              # aiohttp, the client
    .venv/bin/python scripts/bench_api.py                       # 2,000 articles, 1 worker, 1 and 20 clients
    .venv/bin/python scripts/bench_api.py --workers 2 --requests 3000
    .venv/bin/python scripts/bench_api.py --db sqlite:///cascrawl-demo.db --paths '/articles?limit=50'
    .venv/bin/python scripts/bench_api.py --postgres            # the same rows in a throw-away PostgreSQL database

Without --db it builds the database first: N synthetic articles of real sentences of the fixture copy of
www.cas.cn (scripts/bench_storage.py's generator), stored through the db layer (Database.upsert_articles) in a
temporary SQLite file, or with --postgres in a throw-away database on the server of CASCRAWL_TEST_POSTGRES_URL.

For each path and each number of concurrent clients, a fixed number of requests (after a short warm-up)
over keep-alive connections, each client sending its next request when the previous answer is read. The
client asks for gzip as real clients do (--identity: not). The same URL again and again is what many pollers of
the newest page do, and on SQLite the server keeps such an answer while the database is unchanged; --vary
makes every URL different, so each request is read from the database and encoded. Prints requests/s and the p50/p95/p99 latency
(milliseconds), the answer's size on the wire, the server's CPU time per request (its processes', from
/proc: steadier than req/s when other work shares the machine) and any status other than 200. A path answering 404 (a
route this server does not have: /feeds/atom before feeds) is skipped and said so. Bounded: at most
--requests per path and concurrency, on 127.0.0.1; the client shares the machine's cores with the server.
Nothing is asserted (tests check behaviour, this measures speed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from urllib.parse import quote
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_storage import DEFAULT_POSTGRES, RARE, synthetic_articles  # noqa: E402  (scripts/ is sys.path[0])

from cascrawl.db import Database  # noqa: E402
from cascrawl.redact import safe_url  # noqa: E402

DEFAULT_PATHS = ["/articles?limit=50", f"/articles?q={RARE[:4]}&limit=20", "/feeds/atom"]


def build_database(url: str, count: int, text_chars: int) -> None:
    database = Database(url).open(create=True)
    try:
        rows = synthetic_articles(count, text_chars=text_chars)
        for start in range(0, len(rows), 500):
            database.upsert_articles(rows[start:start + 500])
        database.sync_search()
    finally:
        database.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(db_url: str, workers: int, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "cascrawl", "serve", "--port", str(port), "--db", db_url]
    if workers != 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"cascrawl serve exited {process.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return process, base
        except urllib.error.HTTPError:  # 503: serving (no clean run recorded in a built database)
            return process, base
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    process.kill()
    raise SystemExit("cascrawl serve did not answer within 60 s")


def varied(path: str, number: int) -> str:
    """`path` made unique without changing its answer's items: a `since` far in the past, one microsecond
    apart per request (for /articles paths; others as they are)."""
    if not path.startswith("/articles?") and path != "/articles":
        return path
    return f"{path}{'&' if '?' in path else '?'}since=2000-01-01T00:00:00.{number % 1_000_000:06d}Z"


async def drive(base: str, path: str, clients: int, requests: int, headers: dict, server_pid: int,
                vary: bool = False) -> dict:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sizes: list[int] = []
    left = requests
    numbers = iter(range(10**9))
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    async with aiohttp.ClientSession(base, connector=connector, headers=headers, auto_decompress=False) as session:
        async def one_client():
            nonlocal left
            while left > 0:
                left -= 1
                started = time.perf_counter()
                async with session.get(varied(path, next(numbers)) if vary else path) as response:
                    body = await response.read()
                latencies.append(time.perf_counter() - started)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                sizes.append(len(body))

        # Warm-up: every connection opened, caches filled.
        warm = left
        left = min(requests, clients * 5)
        await asyncio.gather(*(one_client() for _ in range(clients)))
        latencies.clear(), statuses.clear(), sizes.clear()
        left = warm
        cpu_before = cpu_seconds(server_pid)
        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(server_pid)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"rps": len(latencies) / elapsed, "p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000,
            "bytes": statistics.median(sizes), "statuses": statuses,
            "cpu_ms": None if cpu_before is None else (cpu_after - cpu_before) * 1000 / len(latencies)}


def cpu_seconds(root: int) -> float | None:
    """CPU time (user + system) of a process and its children alive now (the workers), from /proc; None
    where there is no /proc. A steadier figure than req/s on a machine shared with other work."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = (Path("/proc") / entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))  # ppid, utime + stime
    except OSError:
        return None
    tree, total, grew = {root}, 0, True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    total = sum(stats[pid][1] for pid in tree if pid in stats)
    return total / ticks


def probe(base: str, path: str) -> int:
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", metavar="URL", help="an existing database to serve (default: build one)")
    parser.add_argument("--postgres", action="store_true", help="build the database on PostgreSQL, not SQLite")
    parser.add_argument("--articles", type=int, default=2000, help="articles of the built database (default 2000)")
    parser.add_argument("--text-chars", type=int, default=1500, help="characters of text per article (default 1500)")
    parser.add_argument("--workers", type=int, default=1, help="cascrawl serve --workers (default 1)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per path and concurrency (default 2000)")
    parser.add_argument("--clients", default="1,20", help="concurrent clients, comma-separated (default 1,20)")
    parser.add_argument("--paths", default=",".join(DEFAULT_PATHS),
                        help=f"paths, comma-separated (default {','.join(DEFAULT_PATHS)})")
    parser.add_argument("--identity", action="store_true", help="do not ask for gzip (Accept-Encoding: identity)")
    parser.add_argument("--vary", action="store_true",
                        help="a different URL for every request (/articles: a since= one microsecond apart), so that "
                             "no answer is served from the server's kept answers: each is read and encoded")
    args = parser.parse_args()
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        parser.error("the client is aiohttp: .venv/bin/python -m pip install -e '.[bench]'")

    clients = [int(part) for part in args.clients.split(",") if part.strip()]
    # Non-ASCII (a Chinese search) percent-encoded, as a client sends it.
    paths = [quote(part.strip(), safe="/?&=%:+") for part in args.paths.split(",") if part.strip()]
    headers = {"Accept-Encoding": "identity" if args.identity else "gzip"}
    scratch = tempfile.TemporaryDirectory(prefix="cascrawl-bench-api-")
    dropped = None
    db_url = args.db
    if db_url is None:
        if args.postgres:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url

            server = os.environ.get("CASCRAWL_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
            name = f"cascrawl_bench_api_{os.getpid()}"
            admin = create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            db_url = make_url(server).set(database=name).render_as_string(hide_password=False)
            dropped = (admin, name)
        else:
            db_url = f"sqlite:///{Path(scratch.name) / 'bench.db'}"
        started = time.perf_counter()
        build_database(db_url, args.articles, args.text_chars)
        print(f"built {args.articles} articles ({args.text_chars} characters of text each) in {safe_url(db_url)} "
              f"in {time.perf_counter() - started:.1f} s")
    log = open(Path(scratch.name) / "serve.log", "w+", encoding="utf-8")
    process, base = start_server(db_url, args.workers, log)
    print(f"cascrawl serve --workers {args.workers} on {base}, {os.cpu_count()} cores, "
          f"{'identity' if args.identity else 'gzip'} asked, {args.requests} requests per line"
          f"{', every URL different (--vary)' if args.vary else ', the same URL again and again'}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'path':<40} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'bytes':>8} {'cpu ms':>7}  other")
    try:
        for path in paths:
            status = probe(base, path)
            if status == 404:
                print(f"{path:<40} skipped: 404 (this server has no such route)")
                continue
            for count in clients:
                result = asyncio.run(drive(base, path, count, args.requests, headers, process.pid, args.vary))
                cpu = "" if result["cpu_ms"] is None else f"{result['cpu_ms']:.2f}"
                other = {code: n for code, n in result["statuses"].items() if code != 200}
                print(f"{path:<40} {count:>7} {result['rps']:>8.0f} {result['p50']:>8.1f} {result['p95']:>8.1f} "
                      f"{result['p99']:>8.1f} {result['bytes']:>8.0f} {cpu:>7}  {other or ''}", flush=True)
    finally:
        process.send_signal(2)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if dropped:
            admin, name = dropped
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
