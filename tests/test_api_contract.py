"""The OpenAPI schema is the contract: every constraint the server enforces is in it, so schemathesis (all its
checks and phases, schemathesis.toml) finds no request the schema allows that the server refuses or fails
on, and no response that breaks the schema. Against a real `cascrawl serve` of a crawl of the fixture copy."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from cascrawl.db import Database
from cascrawl.db.media import record_media

from .api_support import crawled_database
from .conftest import REPO


def test_schemathesis_finds_no_failure(request, tmp_path):
    db_url = crawled_database("sqlite", request, tmp_path)
    store = _media_store(db_url, tmp_path / "media")
    result = subprocess.run([sys.executable, "scripts/api_contract.py", "--db", db_url, "--media", str(store),
                             "--max-examples", "40", "--seed", "14"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout, result.stdout[-3000:]


def _media_store(db_url: str, store: Path) -> Path:
    """One stored attachment of the first article, as the media archive records it, in a store folder."""
    content = b"%PDF-1.4\n" + bytes(range(256))
    (store / "full").mkdir(parents=True)
    (store / "full" / "report.pdf").write_bytes(content)
    database = Database(db_url).open(create=False)
    try:
        with database.engine.connect() as connection:
            (url,) = connection.exec_driver_sql("SELECT url FROM articles ORDER BY id LIMIT 1").one()
        record_media(database, [(url, [{
            "kind": "attachment", "url": url.rsplit("/", 1)[0] + "/report.pdf", "status": "stored",
            "path": "full/report.pdf", "checksum": hashlib.md5(content).hexdigest(), "size": len(content),
            "content_type": "application/pdf", "fetched": True}])])
    finally:
        database.close()
    return store
