"""`cascrawl serve`: the read-only HTTP API and the operator page (FastAPI + uvicorn)."""

from __future__ import annotations

import sys

from cascrawl import settings
from cascrawl.cli.common import DB_HELP, open_for_reading


def add_commands(commands) -> None:
    serve = commands.add_parser("serve", help="the read-only HTTP API and the operator page (FastAPI + uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--db", metavar="URL", help=DB_HELP)
    serve.add_argument("--media", metavar="DIR", default=settings.CASCRAWL_MEDIA_STORE or None,
                       help="the media archive's folder, served at /media/{checksum} (default: CASCRAWL_MEDIA_STORE)")
    serve.set_defaults(handler=_serve_command)


def _serve_command(args, parser) -> int:
    import uvicorn

    from cascrawl.api.app import create_app
    from cascrawl.redact import safe_url

    if not 0 <= args.port <= 65535:
        parser.error(f"--port: expected 0 to 65535, got {args.port}")
    database = open_for_reading(args)
    if database is None:
        return 1
    print(f"cascrawl: serving {safe_url(database.url)} read-only on http://{args.host}:{args.port}/ "
          "(operator page /ui/, API docs /docs)", file=sys.stderr)
    watch = _watch(database)
    try:
        uvicorn.run(create_app(database, media_store=args.media), host=args.host, port=args.port, log_level="info",
                    access_log=True)
    finally:
        if watch is not None:
            watch.stop()
        database.close()
    return 0


def _watch(database):
    """With CASCRAWL_NOTIFY_URL / _COMMAND set, a background check that notifies runs found killed (its own
    writable connection: the API's refuses writes); None without a target."""
    from cascrawl.run import watch

    targets = watch.targets_from_settings()
    if not targets.configured:
        return None
    print(f"cascrawl: notifying runs found killed, checked every {watch.WATCH_SECONDS:g} s", file=sys.stderr)
    return watch.Watch(database.url, targets, watch.WATCH_SECONDS).start()
