"""Step 3, re-served copies: pinyin glosses out, Traditional -> Simplified, the canonical www.cas.cn URL.

Copy sites re-serve CAS pages under the same paths, in Traditional characters with tone-marked
pinyin after some of them (`當(dāng)前`). They fold into the original article: same text, same URL.
"""

from __future__ import annotations

from itemadapter import ItemAdapter

from cascrawl.pipelines import setting
from cascrawl.text import count_pinyin_glosses, detect_script, remove_pinyin_glosses, to_simplified
from cascrawl.urls import article_ref

SCRIPT_MODES = ("simplified", "keep")
TEXT_FIELDS = ("title", "text", "source", "author", "editor")


class ReservedCopyPipeline:
    runs_in_worker = True  # a pure function of the item and the settings (pipelines/processor.py)

    def __init__(self, stats, script_mode: str):
        if script_mode not in SCRIPT_MODES:
            raise ValueError(f"CASCRAWL_SCRIPT must be one of {', '.join(SCRIPT_MODES)}, got {script_mode!r}")
        self.stats = stats
        self.script_mode = script_mode

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats, str(setting(crawler.settings, "CASCRAWL_SCRIPT")).strip().lower())

    def process_item(self, item):
        adapter = ItemAdapter(item)
        fields = {name: adapter.get(name) or "" for name in TEXT_FIELDS}

        glosses = sum(count_pinyin_glosses(value) for value in fields.values())
        if glosses:
            fields = {name: remove_pinyin_glosses(value) for name, value in fields.items()}
            self.stats.inc_value("cascrawl/clean/copies/glosses_removed", glosses)
            self.stats.inc_value("cascrawl/clean/copies/glossed_articles")

        script = detect_script(fields["title"] + fields["text"])
        adapter["script"] = script  # as published, whatever is stored
        if script == "traditional":
            if self.script_mode == "simplified":
                fields = {name: to_simplified(value) for name, value in fields.items()}
                self.stats.inc_value("cascrawl/clean/copies/converted_to_simplified")
            else:
                self.stats.inc_value("cascrawl/clean/copies/traditional_kept")
        for name, value in fields.items():
            adapter[name] = value or None

        self._canonical_url(adapter)
        return item

    def _canonical_url(self, adapter: ItemAdapter) -> None:
        """The spider already files an article under its canonical URL; this makes sure of it."""
        ref = article_ref(adapter.get("url"), adapter.get("fetched_url"))
        if ref is None or adapter.get("url") == ref.canonical_url:
            return
        adapter["url"], adapter["docid"], adapter["section"] = ref.canonical_url, ref.docid, ref.section
        if adapter.get("url_date") is None:
            adapter["url_date"] = ref.url_date
        self.stats.inc_value("cascrawl/clean/copies/url_canonicalized")
