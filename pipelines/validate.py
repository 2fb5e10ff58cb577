"""Step 6, validate: required fields present and plausible, else a rejection with a reason.

Rejected items go on to the persist pipeline, which records them in `rejects`; nothing is dropped
silently. Reasons: whatever an earlier step set (the spider's fetch_failed / extraction_error /
not_html / too_large / offsite_redirect / offsite_refresh / offsite_link, boilerplate_title, implausible_date), http_<status>, not_an_article_url, missing_title,
implausible_title, missing_date, missing_body, missing_content_hash.
"""

from __future__ import annotations

import logging
from datetime import date

from itemadapter import ItemAdapter

from cascrawl import stats_keys
from cascrawl.dates import implausibility
from cascrawl.pipelines import StatsPipeline
from cascrawl.urls import parse_article_url

logger = logging.getLogger(__name__)

MAX_TITLE = 200  # characters; CAS headlines are well under 100, a longer "title" is a mis-extraction


def rejection(adapter: ItemAdapter) -> tuple[str, str] | None:
    """(reason code, detail) for an item that must not become an article, else None."""
    if adapter.get("reject_reason"):  # already rejected upstream: extraction_error, boilerplate_title, …
        return adapter["reject_reason"], adapter.get("reject_detail") or ""
    status = adapter.get("http_status") or 200
    if status != 200:
        return f"http_{status}", f"article page answered HTTP {status}"
    url = adapter.get("url") or ""
    ref = parse_article_url(url)
    if ref is None or ref.canonical_url != url:
        return "not_an_article_url", f"not a canonical www.cas.cn article URL: {url!r}"
    title = adapter.get("title")
    if not title:
        return "missing_title", "no title in meta, page heading or <title>"
    if len(title) > MAX_TITLE or "\n" in title:
        return "implausible_title", f"title of {len(title)} characters: {title[:60]!r}…"
    published = adapter.get("published_date")
    if not isinstance(published, date):
        return "missing_date", f"no date (page: {adapter.get('date_text')!r}, url: {adapter.get('url_date')})"
    why = implausibility(published)
    if why:
        return "implausible_date", f"published_date {published.isoformat()} is {why}"
    if not adapter.get("text"):
        template = adapter.get("template")
        return "missing_body", f"no article body (template {template or 'not recognised'})"
    if not adapter.get("content_hash"):
        return "missing_content_hash", "no content hash: is the fields pipeline in ITEM_PIPELINES?"
    return None


class ValidatePipeline(StatsPipeline):
    runs_in_worker = True  # a pure function of the item and the settings (pipelines/processor.py)

    def process_item(self, item):
        adapter = ItemAdapter(item)
        found = rejection(adapter)
        if found is None:
            self.stats.inc_value("cascrawl/validated")
            return item
        reason, detail = found
        adapter["reject_reason"], adapter["reject_detail"] = reason, detail
        self.stats.inc_value(stats_keys.rejected(reason))
        logger.warning("rejected %s: %s (%s)", adapter.get("fetched_url") or adapter.get("url"), reason, detail)
        return item
