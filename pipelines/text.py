"""Step 1, text: body HTML -> plain text, one paragraph per line; the short fields on one line each."""

from __future__ import annotations

from itemadapter import ItemAdapter

from cascrawl.pipelines import StatsPipeline
from cascrawl.text import html_to_text, normalize_lines, one_line

ONE_LINE_FIELDS = ("title", "source", "author", "editor")


class TextPipeline(StatsPipeline):
    """Text rules: `cascrawl.text.html_to_text` (and fixtures/README.md, "Text rules")."""

    runs_in_worker = True  # a pure function of the item and the settings (pipelines/processor.py)

    def process_item(self, item):
        adapter = ItemAdapter(item)
        html = adapter.get("html")
        # A parser that hands over text instead of HTML gets the same normalization.
        text = html_to_text(html) if html else normalize_lines(adapter.get("text") or "")
        adapter["text"] = text or None
        for name in ONE_LINE_FIELDS:
            adapter[name] = one_line(adapter.get(name)) or None
        self.stats.inc_value("cascrawl/clean/text/articles")
        if text:
            self.stats.inc_value("cascrawl/clean/text/lines", text.count("\n") + 1)
        else:
            self.stats.inc_value("cascrawl/clean/text/empty_body")
        return item
