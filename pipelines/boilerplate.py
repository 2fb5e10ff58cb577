"""Step 2, boilerplate: lines that are wholly breadcrumb, info line, widget, attachment label or footer go.

A second net after the parser. The patterns are the settings CASCRAWL_BOILERPLATE_PATTERNS and
CASCRAWL_BOILERPLATE_EXTRA_PATTERNS; how they are applied is in `cascrawl.boilerplate`.

Three rules hold on every page, whatever the settings: a credit line (`责任编辑：王某`, `（责任编辑：…）`,
`【编辑：…】`, `编辑 刘某 校对 李某`, `本文来源：… 责任编辑：…`) is no text, and gives the editor when the
parser found none; an `（原标题：…）` line goes; the headline repeated at the top goes.
"""

from __future__ import annotations

import logging
import re

from itemadapter import ItemAdapter

from cascrawl.boilerplate import BoilerplateFilter, matching_key, parse_patterns
from cascrawl.pipelines import reject, setting

logger = logging.getLogger(__name__)

# Credit lines, matched on a line's matching key (NFKC: ASCII colons and parentheses, Simplified script).
_EDITOR_LABEL = r"(?:责任编辑|值班编辑|实习编辑|编辑|责编|校对|审核|审校|终审|编审|美编|监制)"
_CREDIT_LABEL = rf"(?:{_EDITOR_LABEL}|本文来源|文章来源|信息来源|来源|稿源|作者|记者|发布日期|发布时间|时间|日期)"
_CREDIT_VALUE = r"[^\s:()【】\[\]]{0,30}"
_LABEL_END = r"(?:\s*:\s*|\s+)"  # 编辑：王某, or 编辑 王某 (never 编辑部: a label stands apart from its value)
_CREDIT_LINE = re.compile(
    rf"[(【\[]?\s*(?:{_CREDIT_LABEL}{_LABEL_END}{_CREDIT_VALUE}\s*)+[)】\]]?"
)
_EDITOR_VALUE = re.compile(rf"{_EDITOR_LABEL}{_LABEL_END}(?P<value>[^\s:()【】\[\]]+)")
_ORIGINAL_TITLE = re.compile(r"[(【\[]?\s*原标题\s*:.*")
_CREDIT_LINE_MAX = 80


def credit_line_editor(line: str) -> str | None:
    """When `line` is wholly a credit line naming an editor: the first editor it names (possibly ""),
    else None. A line that only says 来源 or 作者 is not one (those are the info line's)."""
    key = matching_key(line)
    if len(key) > _CREDIT_LINE_MAX or not _CREDIT_LINE.fullmatch(key):
        return None
    found = _EDITOR_VALUE.search(key)
    return found.group("value") if found else None


def is_original_title_line(line: str) -> bool:
    """`（原标题：…）`: the headline the article had at its source, never article text."""
    return bool(_ORIGINAL_TITLE.fullmatch(matching_key(line)))


def is_repeated_headline(line: str, title: str | None) -> bool:
    squeeze = lambda text: "".join(matching_key(text).split())  # noqa: E731
    return bool(title) and squeeze(line) == squeeze(title)


def without_credit_lines(text: str, title: str | None) -> tuple[str, str | None, dict[str, int]]:
    """(text without credit, original-title and repeated-headline lines, the editor the first
    credit line names or None, how many lines of each kind went). The headline goes from the top only
    when something else remains (a body that is only the headline stays as it is), so that cleaning
    twice gives what cleaning once gives."""
    kept, editor, removed = [], None, {"credit_lines": 0, "original_title_lines": 0, "repeated_headline": 0}
    for line in text.split("\n"):
        named = credit_line_editor(line)
        if named is not None:
            removed["credit_lines"] += 1
            editor = editor or named or None
        elif is_original_title_line(line):
            removed["original_title_lines"] += 1
        else:
            kept.append(line)
    leading = next((n for n, line in enumerate(kept) if not is_repeated_headline(line, title)), len(kept))
    if 0 < leading < len(kept):
        removed["repeated_headline"] = leading
        kept = kept[leading:]
    return "\n".join(kept), editor, removed


class BoilerplatePipeline:
    runs_in_worker = True  # a pure function of the item and the settings (pipelines/processor.py)

    def __init__(self, stats, boilerplate: BoilerplateFilter):
        self.stats = stats
        self.boilerplate = boilerplate

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        patterns = parse_patterns(setting(settings, "CASCRAWL_BOILERPLATE_PATTERNS"))
        patterns += parse_patterns(setting(settings, "CASCRAWL_BOILERPLATE_EXTRA_PATTERNS"))
        return cls(crawler.stats, BoilerplateFilter(patterns))

    def process_item(self, item):
        adapter = ItemAdapter(item)
        text, removed = self.boilerplate.split(adapter.get("text") or "")
        if removed:
            adapter["text"] = text or None
            self.stats.inc_value("cascrawl/clean/boilerplate/lines_removed", len(removed))
            self.stats.inc_value("cascrawl/clean/boilerplate/articles")
            logger.debug("boilerplate removed from %s: %r", adapter.get("url"), removed)
        if text:
            text, editor, counts = without_credit_lines(text, adapter.get("title"))
            if any(counts.values()):
                adapter["text"] = text or None
                for kind, count in counts.items():
                    if count:
                        self.stats.inc_value(f"cascrawl/clean/boilerplate/{kind}", count)
            if editor and not adapter.get("editor"):
                adapter["editor"] = editor
        title = adapter.get("title")
        if title and self.boilerplate.is_boilerplate(title):
            self.stats.inc_value("cascrawl/clean/boilerplate/titles")
            reject(adapter, "boilerplate_title", f"the title is page boilerplate, not a headline: {title!r}")
        return item
