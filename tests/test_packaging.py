"""What `pip install .` puts into a fresh virtualenv outside the repository: only the `cascrawl` package (the
repository's spiders/ and pipelines/ inside it, no test or benchmark helpers), and a `cascrawl demo` that works
there with the site copy the wheel ships. Slow: it builds the wheel and installs cascrawl with its dependencies
from the package index."""

from __future__ import annotations

import re
import sqlite3
import zipfile

import pytest

from tests.support.fixture_site import BUNDLED_SITE
from tests.support.venvs import build_wheel, new_venv, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The python of a fresh venv (outside the repository) with the wheel and its dependencies installed."""
    python = new_venv(tmp_path_factory.mktemp("venv") / "env")
    run([python, "-m", "pip", "install", "--quiet", wheel])
    return python


def test_the_wheel_holds_only_the_cascrawl_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"cascrawl"}
    assert {"cascrawl/spiders/cas_news.py", "cascrawl/pipelines/persist.py", "cascrawl/pipelines/processor.py"} <= set(names)
    helpers = [name for name in names if re.search(r"(fixture_site|evaluation|procmem|conftest|/tests?/)", name)]
    assert helpers == []


def test_the_wheel_ships_the_demo_copy_of_the_site_without_the_expected_answers(wheel):
    shipped = {name.removeprefix("cascrawl/demo_site/") for name in zipfile.ZipFile(wheel).namelist()
               if name.startswith("cascrawl/demo_site/")}
    site = {path.relative_to(BUNDLED_SITE).as_posix() for path in BUNDLED_SITE.rglob("*") if path.is_file()}
    answers = {name for name in site if name.endswith(".expected.json")}
    assert answers and shipped == site - answers


def test_the_installed_layout_has_no_top_level_spiders_or_pipelines(installed, tmp_path):
    probe = ("import importlib.util, cascrawl, cascrawl.spiders.cas_news, cascrawl.pipelines.persist;"
             "print(cascrawl.__file__);"
             "print([n for n in ('spiders', 'pipelines', 'tests') if importlib.util.find_spec(n)])")
    where, found = run([installed, "-c", probe], cwd=tmp_path).stdout.splitlines()
    assert where.startswith(str(installed.parent.parent)) and found == "[]"


def test_cascrawl_demo_crawls_the_shipped_copy_from_outside_the_repository(installed, tmp_path):
    section = "syky"
    listed = set(re.findall(r'href="\./(\d{6}/t\d{8}_\d+\.shtml)"', (BUNDLED_SITE / section / "index.shtml").read_text("utf-8")))
    on_the_first_page = {name for name in listed if (BUNDLED_SITE / section / name).is_file()}
    database = tmp_path / "demo.db"
    cascrawl = installed.parent / "cascrawl"
    result = run([cascrawl, "demo", "--section", section, "--max-pages", "1", "--db", f"sqlite:///{database}"],
                 cwd=tmp_path, timeout=300)
    assert "serving the bundled fixture copy" in result.stdout
    with sqlite3.connect(database) as connection:
        urls = {url for (url,) in connection.execute("SELECT url FROM articles")}
    assert on_the_first_page and {url.split(f"/{section}/", 1)[1] for url in urls} == on_the_first_page
