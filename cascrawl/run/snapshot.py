"""The crawler's stats as the run record stores them (JSON)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def json_safe(value: Any) -> Any:
    """Crawler stats as JSON: datetimes as ISO 8601 strings, anything else unknown as its str()."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))
