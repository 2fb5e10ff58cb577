"""The OpenAPI schema is the contract: every constraint the server enforces is in it, so schemathesis (all its
checks and phases, schemathesis.toml) finds no request the schema allows that the server refuses or fails
on, and no response that breaks the schema. Against a real `cascrawl serve` of a crawl of the fixture copy."""

from __future__ import annotations

import subprocess
import sys

from .api_support import crawled_database
from .conftest import REPO


def test_schemathesis_finds_no_failure(request, tmp_path):
    db_url = crawled_database("sqlite", request, tmp_path)
    result = subprocess.run([sys.executable, "scripts/api_contract.py", "--db", db_url, "--max-examples", "40",
                             "--seed", "14"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout, result.stdout[-3000:]
