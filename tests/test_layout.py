"""The repository keeps spiders/ and pipelines/ at its top, and they import as cascrawl.spiders and
cascrawl.pipelines (setup.py) in the development install too: from any working directory, and with no
top-level `spiders` or `pipelines` package installed. (The wheel: tests/test_packaging.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROBE = ("import importlib.util, cascrawl.spiders.cas_news as s, cascrawl.pipelines.persist as p;"
         "print(s.__file__); print(p.__file__);"
         "print([n for n in ('spiders', 'pipelines') if importlib.util.find_spec(n)])")


def _probe(cwd: Path) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_installed_names_are_the_repository_folders_from_outside_it(tmp_path):
    spider, persist, top_level = _probe(tmp_path)
    assert Path(spider) == REPO / "spiders" / "cas_news.py" and Path(persist) == REPO / "pipelines" / "persist.py"
    assert top_level == "[]"


def test_the_same_from_the_repository_root():
    spider, persist, _ = _probe(REPO)  # the root on sys.path makes the folders importable by their own names too
    assert Path(spider) == REPO / "spiders" / "cas_news.py" and Path(persist) == REPO / "pipelines" / "persist.py"
