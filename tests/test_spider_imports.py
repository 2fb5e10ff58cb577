"""Importing the spider costs only the spider: the database layer, its migrations and the distributed mode's
Redis clients are imported when a crawl needs them, not with spiders.cas_news (a tool that parses one page,
`scrapy list`, the extraction workers' parent)."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import REPO

RUN_TIME_ONLY = ("sqlalchemy", "alembic", "scrapy_redis", "redis")


def _run_time_modules_after(imports: str) -> list[str]:
    """Which of RUN_TIME_ONLY a fresh interpreter holds after `imports`."""
    code = (f"import json, sys; {imports}; "
            f"print(json.dumps(sorted(m for m in {RUN_TIME_ONLY!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_importing_the_spider_pulls_in_no_database_or_redis_module():
    assert _run_time_modules_after("import cascrawl.spiders.cas_news") == []


def test_the_check_sees_a_module_that_is_imported():
    """The same check names a module the code did import: the test above can fail."""
    assert _run_time_modules_after("import cascrawl.spiders.cas_news, sqlalchemy") == ["sqlalchemy"]
