"""The two build steps pyproject.toml cannot declare: the repository's top-level `spiders/` and `pipelines/`
installed as `cascrawl.spiders` and `cascrawl.pipelines` (no top-level package of those generic names in
site-packages), and the demo copy of the site (`fixtures/site/` without the tests' expected answers)
shipped in the wheel as `cascrawl/demo_site/`, so `cascrawl demo` works from an installed wheel.

Everything else (metadata, dependencies, entry points) is in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Where each installed package's source lies, when it is not under its dotted name.
PACKAGE_DIRS = {"cascrawl.spiders": "spiders", "cascrawl.pipelines": "pipelines"}
DEMO_SITE_SOURCE = ROOT / "fixtures" / "site"
DEMO_SITE_TARGET = ("cascrawl", "demo_site")  # read by cascrawl.site_server.demo_site()
# The tests' hand-written answers next to each page: not part of the site.
DEMO_SITE_LEFT_OUT = ("*.expected.json",)


class BuildPyWithDemoSite(build_py):
    """build_py, then the site copy into the build tree. An editable install serves fixtures/site itself
    (cascrawl.site_server.demo_site), so it gets no copy."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if not DEMO_SITE_SOURCE.is_dir():
            raise FileNotFoundError(f"no fixtures/site at {DEMO_SITE_SOURCE}: cannot ship the demo copy of the site")
        target = Path(self.build_lib, *DEMO_SITE_TARGET)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(DEMO_SITE_SOURCE, target, ignore=shutil.ignore_patterns(*DEMO_SITE_LEFT_OUT))


setup(
    packages=find_packages(include=["cascrawl", "cascrawl.*"]) + sorted(
        name.replace(PACKAGE_DIRS[root], root, 1) for root in PACKAGE_DIRS
        for name in find_packages(include=[PACKAGE_DIRS[root], PACKAGE_DIRS[root] + ".*"])),
    package_dir=PACKAGE_DIRS,
    cmdclass={"build_py": BuildPyWithDemoSite},
)
