"""The documentation site: `mkdocs build --strict` of docs/ succeeds (a broken link or anchor fails it), and
its settings reference, generated from cascrawl/settings.py, lists every setting with its default."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys

import pytest

import cascrawl.settings as settings

from .conftest import REPO


def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "scripts" / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def defined_settings() -> set[str]:
    """Every setting of cascrawl/settings.py: the upper-case names it has, less those it imports."""
    tree = ast.parse((REPO / "cascrawl" / "settings.py").read_text("utf-8"))
    imported = {alias.asname or alias.name for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    return {name for name in vars(settings) if name.isupper() and name not in imported}


def test_the_reference_lists_every_setting_once_with_its_default():
    reference = hooks().settings_reference()
    rows = dict(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| (.*?) \|", reference, re.MULTILINE))
    assert set(rows) == defined_settings()
    assert len(re.findall(r"^\| `CASCRAWL_DB_BATCH_SIZE` \|", reference, re.MULTILINE)) == 1
    assert rows["CASCRAWL_DB_BATCH_SIZE"] == f"`{settings.CASCRAWL_DB_BATCH_SIZE}`"
    assert rows["DOWNLOAD_MAXSIZE"] == f"`{settings.DOWNLOAD_MAXSIZE}`"  # an expression shown as its value
    assert rows["CASCRAWL_SCRIPT"] == '`"simplified"`'
    # a long default is shown in full below its table
    assert "`CASCRAWL_BOILERPLATE_PATTERNS` =" in reference and "版权所有" in reference


def test_the_reference_carries_the_comments_and_the_environment_variables():
    reference = hooks().settings_reference()
    line = next(row for row in reference.splitlines() if row.startswith("| `CASCRAWL_DB_BATCH_SIZE` |"))
    assert line.endswith("| articles per upsert transaction |")
    database = next(row for row in reference.splitlines() if row.startswith("| `CASCRAWL_DATABASE_URL` |"))
    assert '`"sqlite:///cascrawl.db"`' in database and "environment variable `CASCRAWL_DATABASE_URL` first" in database
    assert "## hostile pages and hosts: where cascrawl may go, and how much one response may cost" in reference
    # a comment holding angle brackets is text, not HTML
    assert "&lt;prefix&gt;:cas_news:requests" in reference


def test_a_new_setting_appears_in_the_reference_with_its_comment():
    source = ('import os\n# --- a topic ---\n# What these do, in a paragraph.\nX_ONE = 1  # the first\n'
              'X_TWO = os.environ.get("X_TWO", "two")\n\n_helper = 3\nX_THREE = [1, 2]  # <b>not bold</b>\n')
    reference = hooks().settings_reference(source)
    assert "## a topic\n\nWhat these do, in a paragraph.\n" in reference
    assert "| `X_ONE` | `1` | the first |" in reference
    assert '| `X_TWO` | `"two"` | the environment variable `X_TWO` first |' in reference
    assert "| `X_THREE` | `[1, 2]` | &lt;b&gt;not bold&lt;/b&gt; |" in reference


@pytest.mark.slow
def test_the_site_builds_strictly_offline(tmp_path):
    """`make docs` as CI runs it: every page in the nav, every link and anchor resolved, the settings page filled."""
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        missing = "mkdocs and mkdocs-material (the docs extra: make setup, or pip install -e '.[docs]') are not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    site = tmp_path / "site"
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                            cwd=REPO, capture_output=True, text=True, timeout=300, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WARNING" not in result.stderr, result.stderr[-3000:]
    page = (site / "settings.html").read_text("utf-8")
    assert "<!-- settings-reference -->" not in page
    for name in defined_settings():
        assert f"<code>{name}</code>" in page, f"the built settings page does not list {name}"
    for name in ["getting-started", "crawling", "extraction", "operations", "api", "export", "schema",
                 "performance", "development", "architecture", "mutation-survivors"]:
        assert (site / f"{name}.html").is_file(), name
