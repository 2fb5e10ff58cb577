"""Articles upserted by canonical URL in batches; rejected items written to `rejects`."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from cascrawl.db import Database

logger = logging.getLogger(__name__)


class PersistPipeline:
    def __init__(self, stats, database_url: str, batch_size: int):
        self.stats = stats
        self.database_url = database_url
        self.batch_size = max(1, batch_size)
        self.database: Database | None = None
        self.pending: list[dict] = []

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(crawler.stats, settings.get("CASCRAWL_DATABASE_URL"), settings.getint("CASCRAWL_DB_BATCH_SIZE", 100))

    def open_spider(self):
        self.database = Database(self.database_url).open()

    def close_spider(self):
        if self.database is not None:
            self.flush()
            self.database.close()

    def process_item(self, item):
        adapter = ItemAdapter(item)
        if adapter.get("reject_reason"):
            self.database.add_rejects([{
                "url": adapter.get("fetched_url") or adapter.get("url"),
                "reason": adapter["reject_reason"],
                "detail": adapter.get("reject_detail"),
                "seen_at": datetime.now(timezone.utc),
            }])
            # Validation already logged it; DEBUG keeps the whole item out of the log.
            raise DropItem(f"rejected: {adapter['reject_reason']}", log_level="DEBUG")
        self.pending.append(adapter.asdict())
        if len(self.pending) >= self.batch_size:
            self.flush()
        return item

    def flush(self):
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        self.database.upsert_articles(batch)
        self.stats.inc_value("cascrawl/db/articles_upserted", len(batch))
        logger.info("stored %d articles", len(batch))
