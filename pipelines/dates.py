"""Step 4, dates: the page's own date (meta, then time line) beats the listing, which beats the URL.

Policy for an implausible date (more than a day in the future, or before 1949): that candidate is
never stored. The next plausible candidate is used instead — usually the URL's date, which the CMS
writes from the publication date — and the passed-over value is recorded in the item's provenance
(`published_passed_over`), counted in the stats (`cascrawl/dates/implausible/<origin>`) and logged
as a warning: the article is kept, the anomaly is visible. When no candidate is plausible but some
were implausible, the item is rejected as `implausible_date` with every candidate in the detail.
When no candidate parses at all, validation rejects it as `missing_date`.
"""

from __future__ import annotations

import logging

from itemadapter import ItemAdapter

from cascrawl.dates import resolve
from cascrawl.pipelines import StatsPipeline, reject

logger = logging.getLogger(__name__)


class PublishedDatePipeline(StatsPipeline):
    runs_in_worker = True  # a pure function of the item and the settings (pipelines/processor.py)

    def process_item(self, item):
        adapter = ItemAdapter(item)
        # The parser says where its date came from (meta PubDate, or the page's DOM); the stats and
        # provenance use four stable names: meta, page, listing, url.
        page_origin = "meta" if adapter.get("date_origin") == "meta" else "page"
        resolution = resolve([
            (page_origin, adapter.get("date_text")),
            ("listing", adapter.get("listing_date")),
            ("url", adapter.get("url_date")),
        ])
        for passed in resolution.passed_over:
            reason = "unparseable" if passed.why == "unparseable" else "implausible"
            self.stats.inc_value(f"cascrawl/dates/{reason}/{passed.origin}")
        implausible = "; ".join(f"{p.origin} {p.value!r} is {p.why}" for p in resolution.implausible)

        published = resolution.published
        if published is None:
            if implausible:
                reject(adapter, "implausible_date", f"no plausible date: {implausible}")
            return item

        adapter["published_date"] = published.date
        adapter["published_at"] = published.at
        provenance = {**(adapter.get("provenance") or {}), "published": published.origin}
        if implausible:
            provenance["published_passed_over"] = implausible
            logger.warning("%s: date from the %s, passed over: %s", adapter.get("url"), published.origin, implausible)
        adapter["provenance"] = provenance
        self.stats.inc_value(f"cascrawl/dates/from_{published.origin}")
        url_date = adapter.get("url_date")
        if url_date and published.origin in ("meta", "page") and abs((published.date - url_date).days) > 1:
            self.stats.inc_value("cascrawl/dates/page_differs_from_url")
        return item
