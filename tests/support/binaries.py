"""A program a test drives for real (Chromium, Prometheus): its path, or a skip that says what is missing —
a failure under CI=true, where every such test must run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def required(path: str, reason: str) -> str:
    """`path` when it is a file; else skip with `reason` (fail under CI=true)."""
    if not Path(path).is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return path
