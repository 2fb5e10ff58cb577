"""MkDocs hook (mkdocs.yml `hooks:`): the settings reference, generated from cascrawl/settings.py at build time.

docs/settings.md holds the marker `<!-- settings-reference -->`; every build replaces it with what
cascrawl/settings.py says: each setting (every upper-case name the module assigns), its default as
written there, and its comment. The file's `# --- topic ---` lines become headings, a comment block
above a run of settings the paragraph before their table, a comment on a setting's line its meaning.
So the page cannot drift from the code: it is read from the code. `settings_reference()` is what
tests/test_docs_site.py checks.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

SETTINGS = Path(__file__).resolve().parent.parent / "cascrawl" / "settings.py"
MARKER = "<!-- settings-reference -->"
_TOPIC = re.compile(r"^#\s*---\s*(.+?)\s*---\s*$")
_SHORT = 70  # a default longer than this (in characters) is shown below its table, not in a cell


def _comments(source: str) -> dict[int, str]:
    """Line number -> the text of the comment on that line (without `#`)."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string[1:].strip()
    return found


def _default(name: str, node: ast.expr, segment: str) -> tuple[str, str]:
    """(the default, a note): as written when it is a literal; `os.environ.get("NAME", default)` as its
    default and a note naming the variable; an expression (`10 * 1024 * 1024`, `list(DEFAULT_SECTIONS)`)
    as the value it gives, the expression in the note."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and ast.unparse(node.func.value) == "os.environ" and len(node.args) == 2):
        variable = ast.literal_eval(node.args[0])
        return ast.unparse(node.args[1]).replace("'", '"'), f"the environment variable `{variable}` first"
    try:
        ast.literal_eval(node)
    except ValueError:
        import importlib

        value = getattr(importlib.import_module("cascrawl.settings"), name)
        if isinstance(value, (int, float, str, bool, list, tuple)) and len(repr(value)) <= _SHORT:
            shown = repr(value) if not isinstance(value, list) else "[" + ", ".join(map(repr, value)) + "]"
            return shown.replace("'", '"'), f"= `{' '.join(segment.split())}`"
    return (" ".join(segment.split()) if "\n" not in segment else segment), ""


def settings_blocks(source: str | None = None) -> list[dict]:
    """The settings of cascrawl/settings.py in file order, grouped as the file groups them.

    Each block: {"topic": heading or None, "intro": comment paragraph or "", "settings": [(name, default, comment)]}.
    """
    source = SETTINGS.read_text("utf-8") if source is None else source
    lines = source.splitlines()
    comments = _comments(source)
    blocks: list[dict] = []
    topic = None
    last_end = 0
    carried: list[str] = []
    module = ast.parse(source)
    for statement in module.body:
        targets = []
        if isinstance(statement, ast.Assign):
            targets = [t.id for t in statement.targets if isinstance(t, ast.Name)]
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            targets = [statement.target.id]
        names = [name for name in targets if name.isupper()]
        # The comment lines between the previous statement and this one: topic headings and a paragraph.
        intro = []
        for number in range(last_end + 1, statement.lineno):
            text = lines[number - 1].strip()
            if not text:
                intro = []  # a blank line ends a paragraph that did not reach this statement
                continue
            if text.startswith("#"):
                heading = _TOPIC.match(text)
                if heading:
                    topic, intro, carried = heading.group(1), [], []
                    blocks.append({"topic": topic, "intro": "", "settings": []})
                else:
                    intro.append(comments.get(number, text.lstrip("#").strip()))
        adjacent = statement.lineno == last_end + 1 and blocks and blocks[-1]["settings"]
        last_end = statement.end_lineno
        if not names or statement.value is None:
            # A helper in lower case (not a setting): the paragraph above it is about the settings it builds.
            carried = intro or carried
            continue
        intro, carried = intro or carried, []
        segment = ast.get_source_segment(source, statement.value) or ast.unparse(statement.value)
        comment = comments.get(statement.lineno, "")
        if intro or not adjacent:
            blocks.append({"topic": None, "intro": " ".join(intro), "settings": []})
        for name in names:
            default, note = _default(name, statement.value, segment)
            blocks[-1]["settings"].append((name, default, "; ".join(part for part in (comment, note) if part)))
    return [block for block in blocks if block["settings"] or block["topic"]]


def _cell(text: str) -> str:
    """Text for a table cell: no column break, and no HTML outside code spans (`<host>:<pid>` is text)."""
    parts = re.split(r"(`[^`]*`)", text)
    escaped = [part if part.startswith("`") else
               part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for part in parts]
    return "".join(escaped).replace("|", "\\|")


def _code(text: str) -> str:
    """Inline code that may itself hold backticks."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def settings_reference(source: str | None = None) -> str:
    """The Markdown of the reference: headings, paragraphs, one table per run of settings."""
    out: list[str] = []
    for block in settings_blocks(source):
        if block["topic"]:
            out += [f"## {block['topic']}", ""]
        if block["intro"]:
            out += [_cell(block["intro"]).replace("\\|", "|"), ""]
        if not block["settings"]:
            continue
        long_ones = []
        out += ["| setting | default | meaning |", "|---|---|---|"]
        for name, default, comment in block["settings"]:
            if len(default) > _SHORT or "\n" in default:
                long_ones.append((name, default))
                shown = "below the table"
            else:
                shown = _cell(_code(default))
            out.append(f"| `{name}` | {shown} | {_cell(comment)} |")
        out.append("")
        for name, default in long_ones:
            out += [f"`{name}` =", "", "```python", default, "```", ""]
    return "\n".join(out)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 (MkDocs' hook signature)
    if MARKER in markdown:
        return markdown.replace(MARKER, settings_reference())
    return markdown
