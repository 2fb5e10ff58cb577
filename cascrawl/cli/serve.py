"""`cascrawl serve`: the read-only HTTP API and the operator page (FastAPI + uvicorn), in one process or several."""

from __future__ import annotations

import json
import os
import sys

from cascrawl import settings
from cascrawl.cli.common import DB_HELP, open_for_reading, positive

# How `cascrawl serve --workers N` hands its options to uvicorn's worker processes (started afresh, not forked:
# each imports worker_app and builds its own app): JSON in this environment variable. Not a setting.
WORKER_OPTIONS = "CASCRAWL_SERVE_WORKER_OPTIONS"


def add_commands(commands) -> None:
    serve = commands.add_parser("serve", help="the read-only HTTP API and the operator page (FastAPI + uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--db", metavar="URL", help=DB_HELP)
    serve.add_argument("--media", metavar="DIR", default=settings.CASCRAWL_MEDIA_STORE or None,
                       help="the media archive's folder, served at /media/{checksum} (default: CASCRAWL_MEDIA_STORE)")
    serve.add_argument("--workers", type=positive, default=1, metavar="N",
                       help="worker processes answering requests, each with its own read-only database connections "
                            "(default: 1, this process answers; one per core for a machine that only serves)")
    serve.set_defaults(handler=_serve_command)


def _serve_command(args, parser) -> int:
    import uvicorn

    from cascrawl.api.app import create_app
    from cascrawl.redact import safe_url

    if not 0 <= args.port <= 65535:
        parser.error(f"--port: expected 0 to 65535, got {args.port}")
    if args.workers > 1 and args.port == 0:
        parser.error("--workers: give a --port (workers cannot share a port the system picks for each)")
    database = open_for_reading(args)  # refused here, in one line, before any worker starts
    if database is None:
        return 1
    workers = f", {args.workers} worker processes" if args.workers > 1 else ""
    print(f"cascrawl: serving {safe_url(database.url)} read-only on http://{args.host}:{args.port}/{workers} "
          "(operator page /ui/, API docs /docs)", file=sys.stderr)
    watch = _watch(database)
    try:
        if args.workers > 1:
            url = database.url
            database.close()
            os.environ[WORKER_OPTIONS] = json.dumps({"db": url, "media": args.media})
            uvicorn.run("cascrawl.cli.serve:worker_app", factory=True, workers=args.workers, host=args.host,
                        port=args.port, log_level="info", access_log=True)
            return 0
        uvicorn.run(create_app(database, media_store=args.media), host=args.host, port=args.port, log_level="info",
                    access_log=True)
    finally:
        if watch is not None:
            watch.stop()
        database.close()
    return 0


def worker_app():
    """The app of one worker process of `cascrawl serve --workers N` (uvicorn calls it in each): its own
    read-only Database of the URL the command was given."""
    from cascrawl.api.app import create_app
    from cascrawl.db import Database

    options = json.loads(os.environ[WORKER_OPTIONS])
    database = Database(options["db"]).open(create=False)
    try:
        return create_app(database, media_store=options["media"])  # reads through database.reader()
    finally:
        database.close()  # the app keeps its reader (closed when the worker shuts down)


def _watch(database):
    """With CASCRAWL_NOTIFY_URL / _COMMAND set, a background check that notifies runs found killed (its own
    writable connection: the API's refuses writes); None without a target."""
    from cascrawl.run import watch

    targets = watch.targets_from_settings()
    if not targets.configured:
        return None
    print(f"cascrawl: notifying runs found killed, checked every {watch.WATCH_SECONDS:g} s", file=sys.stderr)
    return watch.Watch(database.url, targets, watch.WATCH_SECONDS).start()
