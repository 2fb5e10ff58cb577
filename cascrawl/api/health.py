"""The health report of /healthz and `cascrawl health`: the database read, then the rule of
cascrawl.run.health_state applied to its latest runs."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from cascrawl.api import records
from cascrawl.db import reads
from cascrawl.run import health_state

RUNS_READ = 50  # runs looked through for the latest completed one (more running at once is not a real case)


def max_age_seconds(value: str | float | None = None) -> float:
    """`value`, else CASCRAWL_HEALTH_MAX_AGE from the environment, else the default of cascrawl/settings.py."""
    if value is None:
        from cascrawl import settings

        value = os.environ.get("CASCRAWL_HEALTH_MAX_AGE", settings.CASCRAWL_HEALTH_MAX_AGE)
    return health_state.parse_max_age(value)


def report(database, max_age: float, now: datetime | None = None) -> tuple[bool, dict[str, Any]]:
    """(healthy, the JSON body): `status` ok or error, `database`, `schema_revision`, `last_run` (the newest run,
    running or not), then the verdict's fields (health_state.as_json) and `run_id`, the run judged."""
    now = now or datetime.now(timezone.utc)
    try:
        reads.ping(database)
        state = database.schema_state()
        runs = reads.list_runs(database, limit=RUNS_READ)
    except Exception as error:  # DatabaseError or SQLAlchemyError: either way, not healthy
        health = health_state.unreachable(database.error_line(error), max_age)
        return False, {"status": "error", "database": "unreachable", "schema_revision": None, "last_run": None,
                       **health_state.as_json(health), "run_id": None}
    health = health_state.judge(runs, now, max_age)
    body = {"status": "ok" if health.healthy else "error", "database": "reachable",
            "schema_revision": state.current, "last_run": records.run_json(runs[0]) if runs else None,
            **health_state.as_json(health), "run_id": health.run["id"] if health.run else None}
    return health.healthy, body
