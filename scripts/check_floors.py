"""Install every dependency of cascrawl at the lowest version pyproject.toml allows (its `>=` floor) into a
fresh virtualenv, cascrawl itself editable from this checkout, and run the fast tests there: the floors are
versions that were seen to work, not guesses. The rest of the dependency tree is whatever pip resolves.

    python scripts/check_floors.py                       # the default test selection below
    python scripts/check_floors.py tests/test_urls.py -k canonical   # other pytest arguments
    python scripts/check_floors.py --only scrapy         # only these at their floor, the others at their newest

Needs the package index (a few minutes: every dependency is installed anew). Exit code: pytest's, or 1 when
a floor cannot be installed."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.venvs import new_venv, run  # noqa: E402

# Unit tests of the cleaning, parsing, item processor and Scrapy adapters, plus crawls of the fixture site
# (test_pipelines, test_gold): what the Scrapy, itemadapter, SQLAlchemy, dateparser and OpenCC floors must carry.
DEFAULT_TESTS = ["tests/test_compat.py", "tests/test_urls.py", "tests/test_dates.py", "tests/test_text.py",
                 "tests/test_parsers.py", "tests/test_item_processor.py", "tests/test_cleaning_rules.py",
                 "tests/test_media_rules.py", "tests/test_pipelines.py", "tests/test_gold.py", "tests/test_db_store.py",
                 "tests/test_api.py", "-x", "-q", "-p", "no:cacheprovider"]
# What the selected tests need besides cascrawl (not the whole test extra: schemathesis and playwright pin
# their own floors of rich, httpx and others, which would decide the check instead of cascrawl's floors).
# The API tests' client: Starlette's TestClient asks for httpx2 in current releases, for httpx in those of the
# FastAPI floor.
TEST_TOOLS = ["pytest", "hypothesis", "httpx2", "httpx"]
_FLOOR = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?P<extras>\[[^\]]*\])?\s*>=\s*(?P<version>[^,;\s]+)")


def floors(pyproject: Path = REPO / "pyproject.toml") -> dict[str, str]:
    """{requirement name with extras: floor version} of [project] dependencies that have a `>=` floor."""
    found = {}
    for requirement in tomllib.loads(pyproject.read_text("utf-8"))["project"]["dependencies"]:
        match = _FLOOR.match(requirement)
        if match:
            found[match["name"] + (match["extras"] or "")] = match["version"]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="pin only this dependency (repeatable)")
    parser.add_argument("pytest_args", nargs="*", help=f"default: {' '.join(DEFAULT_TESTS)}")
    args = parser.parse_args(argv)
    pins = {name: version for name, version in floors().items()
            if not args.only or name.split("[")[0] in args.only}
    with tempfile.TemporaryDirectory(prefix="cascrawl-floors-") as workdir:
        python = new_venv(Path(workdir) / "env")
        requirements = [f"{name}=={version}" for name, version in pins.items()]
        print("installing", " ".join(requirements), flush=True)
        try:
            run([python, "-m", "pip", "install", "--quiet", *requirements, "-e", str(REPO), *TEST_TOOLS], timeout=1800)
        except AssertionError as error:
            print(error, file=sys.stderr)
            return 1
        installed = run([python, "-m", "pip", "freeze"]).stdout
        print("installed:", " ".join(line for line in installed.splitlines()
                                      if line.split("==")[0].lower() in {n.split("[")[0].lower() for n in pins}))
        return subprocess.call([str(python), "-m", "pytest", *(args.pytest_args or DEFAULT_TESTS)], cwd=REPO)


if __name__ == "__main__":
    sys.exit(main())
