"""Body HTML -> clean text; pinyin glosses out; Traditional pages converted to Simplified."""

from __future__ import annotations

from itemadapter import ItemAdapter

from cascrawl.text import content_hash, detect_script, html_to_text, normalize_lines, remove_pinyin_glosses, to_simplified

SCRIPT_MODES = ("simplified", "keep")


class CleanTextPipeline:
    def __init__(self, stats, script_mode: str):
        if script_mode not in SCRIPT_MODES:
            raise ValueError(f"CASCRAWL_SCRIPT must be one of {', '.join(SCRIPT_MODES)}, got {script_mode!r}")
        self.stats = stats
        self.script_mode = script_mode

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats, crawler.settings.get("CASCRAWL_SCRIPT", "simplified"))

    def process_item(self, item):
        adapter = ItemAdapter(item)
        fields = {
            "title": normalize_lines(adapter.get("title") or ""),
            "text": html_to_text(adapter.get("html") or ""),
            "source": normalize_lines(adapter.get("source") or ""),
            "author": normalize_lines(adapter.get("author") or ""),
            "editor": normalize_lines(adapter.get("editor") or ""),
        }
        unglossed = {name: remove_pinyin_glosses(value) for name, value in fields.items()}
        if unglossed != fields:
            self.stats.inc_value("cascrawl/clean/glosses_removed")
        script = detect_script(unglossed["title"] + unglossed["text"])
        if script == "traditional" and self.script_mode == "simplified":
            unglossed = {name: to_simplified(value) for name, value in unglossed.items()}
            self.stats.inc_value("cascrawl/clean/converted_to_simplified")
        for name, value in unglossed.items():
            adapter[name] = value or None
        adapter["script"] = script
        adapter["content_hash"] = content_hash(adapter["title"], adapter["text"])
        return item
