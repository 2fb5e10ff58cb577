"""Lines that are wholly boilerplate: breadcrumb, info line, page widgets, attachment label, site footer.

The cleaning pipelines use this as a second net after the parser, which already keeps to the body
container. The patterns themselves are settings (`CASCRAWL_BOILERPLATE_PATTERNS` and
`CASCRAWL_BOILERPLATE_EXTRA_PATTERNS` in `cascrawl/settings.py`); this module only knows how to
apply them:

- each pattern matches one *stretch* of boilerplate (`当前位置：首页 >> 工作动态`, `邮编：100864`);
- a line is boilerplate when it consists only of such stretches, in any order, with nothing but
  white space or `|` between them — so `地址：北京市三里河路52号 邮编：100864` goes, while a sentence
  that merely mentions 版权所有 or 地址 stays;
- only a line's *matching key* is tried, never the line as it is: pinyin glosses out, Traditional
  characters made Simplified (plain OpenCC t2s, which leaves Simplified text alone), NFKC (full-width
  letters, digits and colons become ASCII), white space one-spaced. The patterns are brought to the
  same form (t2s, NFKC) before they are compiled, so `责任校对：.+`, `責任校對:.+` and
  `责任校对:.+` are one pattern, and each catches `網(wǎng)站標(biāo)識碼`-style lines on re-served copies;
- lines longer than MAX_LINE characters are paragraphs, never boilerplate (this also bounds the
  cost of a pattern that backtracks).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable

from cascrawl.text import remove_pinyin_glosses, traditional_to_simplified_characters

MAX_LINE = 300
# What may stand between two stretches of boilerplate on one line.
_SEPARATOR = r"[\s|｜]*"


class BoilerplateError(ValueError):
    """A boilerplate pattern that is not a valid regular expression."""


def parse_patterns(value) -> list[str]:
    """A patterns setting -> list of patterns.

    Accepts a list (settings.py), a JSON list in a string (`-s 'NAME=["责任校对.*"]'`), or a string
    with one pattern per line. Commas are *not* separators: patterns contain them.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise BoilerplateError(f"boilerplate patterns: not a JSON list: {error}") from None
        else:
            value = text.splitlines()
    if not isinstance(value, Iterable):
        raise BoilerplateError(f"boilerplate patterns must be a list of strings, got {type(value).__name__}")
    patterns = [str(pattern).strip() for pattern in value]
    return [pattern for pattern in patterns if pattern]


def matching_key(line: str) -> str:
    """The form a line is matched in: no pinyin glosses, Simplified script, NFKC, one-spaced."""
    key = unicodedata.normalize("NFKC", traditional_to_simplified_characters(remove_pinyin_glosses(line)))
    return " ".join(key.split())


def matching_pattern(pattern: str) -> str:
    """A pattern in the form lines are matched in (Simplified, NFKC): without this, a pattern written
    with full-width punctuation or Traditional characters could never match any matching key."""
    return unicodedata.normalize("NFKC", traditional_to_simplified_characters(pattern))


class BoilerplateFilter:
    """Decides which lines are wholly boilerplate, for a list of stretch patterns."""

    def __init__(self, patterns: Iterable[str]):
        self.patterns = list(patterns)
        for pattern in self.patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise BoilerplateError(f"boilerplate pattern {pattern!r} is not a regular expression: {error}") from None
        if self.patterns:
            stretch = "(?:" + "|".join(f"(?:{matching_pattern(pattern)})" for pattern in self.patterns) + ")"
            self._line = re.compile(rf"{_SEPARATOR}{stretch}(?:{_SEPARATOR}{stretch})*{_SEPARATOR}", re.IGNORECASE)
        else:
            self._line = None

    def is_boilerplate(self, line: str) -> bool:
        line = line.strip()
        if not line or self._line is None or len(line) > MAX_LINE:
            return False
        # Only the matching key decides: deciding on the raw line too made the verdict depend on
        # whether glosses were still there (not idempotent: 地址：一(dāng) vs 地址：一).
        return self._line.fullmatch(matching_key(line)) is not None

    def split(self, text: str) -> tuple[str, list[str]]:
        """(text without its boilerplate lines, the removed lines)."""
        kept, removed = [], []
        for line in text.split("\n"):
            (removed if self.is_boilerplate(line) else kept).append(line)
        return "\n".join(kept), removed
