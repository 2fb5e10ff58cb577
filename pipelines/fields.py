"""Step 5, fields: source, author and editor without labels or brackets; the content hash."""

from __future__ import annotations

from itemadapter import ItemAdapter

from cascrawl.pipelines import StatsPipeline
from cascrawl.text import clean_person, clean_source, content_hash


class FieldsPipeline(StatsPipeline):
    runs_in_worker = True  # a pure function of the item and the settings (pipelines/processor.py)

    def process_item(self, item):
        adapter = ItemAdapter(item)
        cleaned = {
            "source": clean_source(adapter.get("source")),
            "author": clean_person(adapter.get("author")),
            "editor": clean_person(adapter.get("editor")),
        }
        for name, value in cleaned.items():
            if value != adapter.get(name):
                self.stats.inc_value(f"cascrawl/clean/fields/{name}_cleaned")
            adapter[name] = value
        if cleaned["source"] is None:
            self.stats.inc_value("cascrawl/clean/fields/source_null")
        # sha256 of title + "\n" + text, both already normalized (docs/export.md).
        adapter["content_hash"] = content_hash(adapter.get("title"), adapter.get("text"))
        return item
