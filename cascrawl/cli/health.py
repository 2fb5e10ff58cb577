"""`cascrawl health`: the verdict of /healthz for scripts and timers; exit 0 healthy, 1 not."""

from __future__ import annotations

import sys

from cascrawl.cli.common import DB_HELP, print_json


def add_commands(commands) -> None:
    health = commands.add_parser(
        "health", help="healthy (exit 0) when the latest completed run finished cleanly and recently, else exit 1",
        description="The same verdict as GET /healthz: healthy only when the latest completed run (a running one "
                    "is skipped) is `finished` and younger than --max-age. Exit 0 healthy, 1 unhealthy (failed, "
                    "degraded, stopped, interrupted, stale, no run yet, database unreachable).")
    health.add_argument("--db", metavar="URL", help=DB_HELP)
    health.add_argument("--max-age", metavar="AGE",
                        help="how old the latest completed run may be: seconds or a duration such as 26h, 90m, 1d12h "
                             "(default: CASCRAWL_HEALTH_MAX_AGE, else 26h)")
    health.add_argument("--json", action="store_true", help="the JSON body of /healthz")
    health.epilog = ("With CASCRAWL_NOTIFY_URL or CASCRAWL_NOTIFY_COMMAND set, a run found killed (running, heartbeat "
                     "stale, run lock free) is recorded interrupted and notified once, before the verdict.")
    health.set_defaults(handler=_health_command)


def _health_command(args, parser) -> int:
    from cascrawl.api import health
    from cascrawl.cli.common import database_url
    from cascrawl.db import Database, DatabaseError
    from cascrawl.run import health_state

    try:
        max_age = health.max_age_seconds(args.max_age)
    except ValueError as error:
        parser.error(f"--max-age: {error}")
    try:
        database = Database(database_url(args)).open(create=False)
    except DatabaseError as error:  # no such file, schema behind, …: unhealthy, said the same way
        healthy, body = False, {"status": "error", "database": "unreachable", "schema_revision": None,
                                "last_run": None, "run_id": None,
                                **health_state.as_json(health_state.unreachable(str(error), max_age))}
    else:
        try:
            _notify_dead_runs(database)
            healthy, body = health.report(database, max_age)
        finally:
            database.close()
    if args.json:
        print_json(body)
    else:
        print(f"{body['verdict']}: {body['detail']}")
        for problem in body["problems"]:
            print(f"  - {problem['text']}")
    return 0 if healthy else 1


def _notify_dead_runs(database) -> None:
    """With CASCRAWL_NOTIFY_URL / _COMMAND set: a run found killed is recorded interrupted and notified, once
    (cascrawl/run/watch.py); a notification that cannot be sent or recorded never changes the verdict."""
    from cascrawl.run import watch

    targets = watch.targets_from_settings()
    if not targets.configured:
        return
    try:
        for run_id in watch.notify_dead_runs(database, targets):
            print(f"cascrawl: run {run_id} was killed without closing: recorded interrupted, notified", file=sys.stderr)
    except Exception as error:
        print(f"cascrawl: warning: killed runs not notified: {database.error_line(error)}", file=sys.stderr)
