"""The OpenAPI schema is the contract: schemathesis (every check, every phase; schemathesis.toml) against a real
`cascrawl serve` of a database, on a free loopback port. Prints schemathesis's report; exit code 0 when it found
no failure.

    .venv/bin/python scripts/api_contract.py [--db sqlite:///cascrawl-demo.db] [--media DIR] [--max-examples 100] [--seed N]

GET /media/{checksum} is tested with the checksum of a file the database records as stored, served from
--media DIR (the media archive's folder); without one, that operation is left out, and the report says so.

`make api-contract` runs it on the demo database (`make demo` first); tests/test_api_contract.py on a crawl of
the fixture copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def first_cursor(db_url: str) -> str:
    """A cursor this service hands out (after the first article in paging order)."""
    from cascrawl.db import Database, reads

    database = Database(db_url).open(create=False)
    try:
        page = reads.list_articles(database, reads.ArticleFilter(), limit=1)
    finally:
        database.close()
    if page.cursor is None:
        raise SystemExit(f"{db_url} holds no article: crawl first (make demo)")
    return page.cursor.encode()


def stored_checksum(db_url: str, media: str | None) -> str | None:
    """The checksum of a file the media archive stored and the store folder holds, or None."""
    if not media:
        return None
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from cascrawl.db import Database
    from cascrawl.db.models import ArticleMedia

    database = Database(db_url).open(create=False)
    try:
        with Session(database.engine) as session:
            query = select(ArticleMedia.checksum, ArticleMedia.path).where(ArticleMedia.status == "stored")
            for checksum, path in session.execute(query.order_by(ArticleMedia.id)):
                if (Path(media) / path).is_file():
                    return checksum
    finally:
        database.close()
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite:///cascrawl-demo.db", help="database to serve (default: the demo's)")
    parser.add_argument("--media", metavar="DIR", help="the media archive's folder, served at /media/{checksum}")
    parser.add_argument("--max-examples", type=int, default=100, help="test cases per operation and phase")
    parser.add_argument("--seed", type=int, help="schemathesis seed, to repeat a run")
    args = parser.parse_args()
    cursor = first_cursor(args.db)
    checksum = stored_checksum(args.db, args.media)
    media_options = ["--media", args.media] if args.media else []
    if checksum is None:
        print("no stored media file (--media DIR and a crawl with the media archive on): GET /media/{checksum} "
              "left out of this run", file=sys.stderr)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch, open(Path(scratch) / "serve.log", "w+", encoding="utf-8") as log:
        server = subprocess.Popen([sys.executable, "-m", "cascrawl", "serve", "--port", str(port), "--db", args.db,
                                   *media_options],
                                  cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        print(log.read(), file=sys.stderr)
                        return 1
                    time.sleep(0.1)
            st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
            command = [st, "--config-file", str(REPO / "schemathesis.toml"), "run", f"{base}/openapi.json",
                       "--max-examples", str(args.max_examples), *(["--seed", str(args.seed)] if args.seed else []),
                       *(["--exclude-path", "/media/{checksum}"] if checksum is None else [])]
            # Run in a scratch folder: schemathesis and Hypothesis keep their caches in the working directory.
            return subprocess.run(command, cwd=scratch, env={**os.environ, "CASCRAWL_API_CURSOR": cursor,
                                                                     "CASCRAWL_API_CHECKSUM": checksum or "0" * 32}).returncode
        finally:
            server.send_signal(2)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    sys.exit(main())
