"""Rewrite imports and dotted settings strings for the installed layout: `spiders` and `pipelines` are
`cascrawl.spiders` and `cascrawl.pipelines` (setup.py maps the top-level folders there), and the test and
benchmark helpers moved out of the package to `tests.support`.

Idempotent (a rewritten file is left as it is). Rewrites, in .py, .cfg, .toml and .md files:
- `from pipelines… import`  -> `from cascrawl.pipelines… import`  (and spiders)
- `import pipelines`        -> `from cascrawl import pipelines`; `import pipelines.x [as y]` -> `import cascrawl.pipelines.x [as y]`
- `"pipelines.…"` (a quoted dotted name: settings, logger names, patch targets) -> `"cascrawl.pipelines.…"`,
  and `SPIDER_MODULES = ["spiders"]`, `NEWSPIDER_MODULE = "spiders"` -> `"cascrawl.spiders"`
- `\[pipelines\.` in a regex over log lines (a logger name) -> `\[cascrawl\.pipelines\.`
- `cascrawl.fixture_site`, `cascrawl.evaluation`, `cascrawl.procmem` -> `tests.support.…`
Paths (`pipelines/persist.py`) and prose are left alone.

    python scripts/rename_namespace.py [PATH ...]     # files or folders; default: the whole repository
    python scripts/rename_namespace.py --check [PATH ...]   # exit 1 (and list them) if a file would change
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUFFIXES = {".py", ".cfg", ".toml", ".md"}
SKIP = {".venv", ".git", "mutants", "build", "dist", "node_modules", "__pycache__"}
PACKAGES = "pipelines|spiders"
MOVED = {"cascrawl.fixture_site": "tests.support.fixture_site", "cascrawl.evaluation": "tests.support.evaluation",
         "cascrawl.procmem": "tests.support.procmem"}

# A statement starts at the beginning of a line, after `;`, or right after a quote (`python -c "import …"`).
_STATEMENT = r"(?P<lead>(?:^|[;\"'])[ \t]*)"
_FROM = re.compile(rf"(?m){_STATEMENT}from (?P<name>{PACKAGES})(?P<rest>(?:\.\w+)*\s+import\b)")
_IMPORT = re.compile(rf"(?m){_STATEMENT}import (?P<name>{PACKAGES})(?P<dotted>(?:\.\w+)*)(?P<alias>\s+as\s+\w+)?\b")
_QUOTED = re.compile(rf"(?P<quote>[\"'])(?P<name>{PACKAGES})(?=\.\w)")
# The bare package name in quotes only where Scrapy takes a module name (not `REPO / "pipelines"`, a folder).
_SPIDER_MODULES = re.compile(r"(?m)^(?P<head>[ \t]*(?:NEW)?SPIDER_MODULES?[ \t]*=.*?)(?P<quote>[\"'])spiders(?P=quote)")
# A logger name in a regex over log lines: `\[pipelines\.` (the module's __name__ is the logger's name).
_ESCAPED = re.compile(rf"(?<=\\\[)(?P<name>{PACKAGES})(?=\\\.)")
_MOVED = re.compile(r"\b(?<![\w.])(" + "|".join(map(re.escape, MOVED)) + r")\b")


def _import(match: re.Match) -> str:
    lead, name, dotted, alias = match["lead"], match["name"], match["dotted"], match["alias"] or ""
    if not dotted and not alias:
        return f"{lead}from cascrawl import {name}"  # keeps the name `pipelines` bound, as before
    return f"{lead}import cascrawl.{name}{dotted}{alias}"


def rewrite(text: str) -> str:
    text = _FROM.sub(lambda m: f"{m['lead']}from cascrawl.{m['name']}{m['rest']}", text)
    text = _IMPORT.sub(_import, text)
    text = _QUOTED.sub(lambda m: f"{m['quote']}cascrawl.{m['name']}", text)
    text = _SPIDER_MODULES.sub(lambda m: f"{m['head']}{m['quote']}cascrawl.spiders{m['quote']}", text)
    text = _ESCAPED.sub(lambda m: f"cascrawl\\.{m['name']}", text)
    return _MOVED.sub(lambda m: MOVED[m[1]], text)


def unaliased_dotted_imports(text: str) -> list[str]:
    """`import cascrawl.pipelines.x` lines: code that then says `pipelines.x.…` must say `cascrawl.pipelines.x.…`."""
    return re.findall(rf"(?m)^[ \t]*import cascrawl\.(?:{PACKAGES})\.[\w.]+[ \t]*$", text)


def files(paths: list[Path]):
    for path in paths:
        if path.is_file():
            yield path
            continue
        for candidate in sorted(path.rglob("*")):
            if candidate.suffix in SUFFIXES and candidate.is_file() and not SKIP & set(candidate.relative_to(path).parts):
                yield candidate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[REPO])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)
    changed = []
    for path in files(args.paths):
        if path.resolve() == Path(__file__).resolve():
            continue  # its own patterns and docstring
        text = path.read_text("utf-8")
        new = rewrite(text)
        if new == text:
            continue
        changed.append(path)
        if not args.check:
            path.write_text(new, "utf-8")
        for line in unaliased_dotted_imports(new):
            print(f"{path}: check the uses after {line.strip()!r}", file=sys.stderr)
    for path in changed:
        print(("would rewrite " if args.check else "rewrote ") + str(path))
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
