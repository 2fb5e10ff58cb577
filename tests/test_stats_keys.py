"""The stats keys that cross modules are spelled once (cascrawl/stats_keys.py): no module of the package spells
one of them as a string literal again. The modules not yet moved onto the constants are listed, so the list
only shrinks: a new spelling anywhere else fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cascrawl import stats_keys

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("cascrawl", "pipelines", "spiders")
SHARED = {value for name, value in vars(stats_keys).items() if name.isupper() and isinstance(value, str)}


def _spelled_keys(path: Path) -> set[str]:
    """The shared keys, and the fixed heads of the keys with a varying part, that `path` writes as literals."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in SHARED:
            found.add(node.value)
        if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            head = node.values[0].value
            if head in {"cascrawl/rejected/", "cascrawl/coverage/", "cascrawl/section/"}:
                found.add(head + "…")
    return found


def _modules():
    for folder in PACKAGE_DIRS:
        for path in sorted((REPO / folder).rglob("*.py")):
            name = path.relative_to(REPO).as_posix()
            if name != "cascrawl/stats_keys.py" and "/migrations/" not in name:
                yield name, path


@pytest.mark.parametrize("name,path", list(_modules()), ids=lambda value: value if isinstance(value, str) else "")
def test_no_module_spells_a_shared_stats_key_again(name, path):
    assert _spelled_keys(path) == set()



def test_the_keys_are_distinct_and_the_varying_ones_extend_their_heads():
    values = [value for name, value in vars(stats_keys).items() if name.isupper() and isinstance(value, str)]
    assert len(values) == len(set(values))
    assert stats_keys.rejected("http_404") == "cascrawl/rejected/http_404"
    assert stats_keys.rejected("x").startswith(stats_keys.REJECTED_PREFIX)
