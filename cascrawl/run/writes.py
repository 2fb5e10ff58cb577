"""One batch into the database: the articles upserted (one transaction), the rejects recorded and put on the
re-fetch schedule (a stored article whose page is gone twice in a row withdrawn first), the media records, the walks' progress; then the counts of what was written, and the
full-text index brought up to date now and then. Used in the persist pipeline's database thread and by the
spool replay at the start of a run (cascrawl/run/replay.py)."""

from __future__ import annotations

import logging
import time

from cascrawl import stats_keys
from cascrawl.db import Database, UpsertResult, frontier
from cascrawl.db.articles import withdraw_gone
from cascrawl.db.media import record_media

logger = logging.getLogger(__name__)

# New articles wait for the full-text index (cascrawl/db/fulltext.py; SQLite and PostgreSQL) until this many
# have been stored, or the run ends: indexing 1,000 at a time cost 15% more than all at once on SQLite, and
# keeps the end of a long run short (about 0.4 ms per article of 1,600 characters on SQLite, 1 ms on
# PostgreSQL).
INDEX_EVERY = 1000


class StoredThenFailed(Exception):
    """The batch's articles were committed, then a later step of its write failed (the rejects, the
    re-fetch schedule, the media records, the walks): the articles are stored and must not be kept again
    as if they were not; `error` is what failed, `outcome` the articles' (result, seconds)."""

    def __init__(self, error: Exception, outcome: tuple[UpsertResult, float]):
        super().__init__(str(error))
        self.error, self.outcome = error, outcome


class BatchWriter:
    def __init__(self, database: Database, run_id: int | None, stats, reject_retry_max_days: float):
        self.database = database
        self.run_id = run_id
        self.stats = stats
        self.reject_retry_max_days = max(1.0, reject_retry_max_days)
        self._unindexed = 0  # articles inserted since the full-text index was last brought up to date

    def write(self, batch: list[dict], rejects: list[dict],
              walks: list[frontier.WalkProgress] | None = None) -> tuple[UpsertResult, float]:
        """The articles (one transaction), then the rejects with their re-fetch schedule and the walk
        progress. Storing an article twice is harmless (upsert by URL), so a batch whose commit was lost can
        simply be written again; but a batch whose articles were committed before a later step failed raises
StoredThenFailed, so the caller keeps only what is still unwritten (a spool never claims stored articles).
Blocking: in the database thread (or before the crawl fetches anything)."""
        started = time.perf_counter()
        database = self.database
        result = database.upsert_articles(batch, run_id=self.run_id)
        try:
            self._after_articles(batch, rejects, walks, result)
        except Exception as error:
            raise StoredThenFailed(error, (result, time.perf_counter() - started)) from error
        return result, time.perf_counter() - started

    def _after_articles(self, batch: list[dict], rejects: list[dict], walks, result: UpsertResult) -> None:
        database = self.database
        refused = {url for url, _, _ in result.rejected}
        stored = [row["url"] for row in batch if row.get("url") and row["url"] not in refused]
        database.add_rejects([{key: row[key] for key in ("url", "reason", "detail", "seen_at")} for row in rejects],
                             run_id=self.run_id)
        scheduled = [{"url": row.get("canonical_url") or row["url"], "fetched_url": row["url"],
                      "section": row.get("section"), "reason": row["reason"]} for row in rejects]
        self._withdraw_gone(scheduled, result)  # reads the schedule's previous reasons: before they are replaced
        sections = {row.get("url"): row.get("section") for row in batch}
        scheduled += [{"url": url, "fetched_url": url, "section": sections.get(url), "reason": reason}
                      for url, reason, _ in result.rejected]
        media = [(row["url"], row["media"]) for row in batch if row.get("media") and row["url"] not in refused]
        if media:  # the media archive is on: its records, and the articles whose files must be tried again
            record_media(database, media)
            retry = {url: reason for url, entries in media if (reason := frontier.media_retry_reason(entries))}
            scheduled += [{"url": url, "fetched_url": url, "section": sections.get(url), "reason": reason}
                          for url, reason in retry.items()]
            stored = [url for url in stored if url not in retry]
        frontier.schedule_refetches(database, scheduled, max_days=self.reject_retry_max_days)
        frontier.clear_refetches(database, stored)
        if walks is not None:
            frontier.record_walks(database, walks, self.run_id, final=False)
        self._unindexed += result.inserted
        if self._unindexed >= INDEX_EVERY:  # here, in this thread, rather than all at the end of the run
            self._unindexed = 0
            self.sync_search()

    def _withdraw_gone(self, rejects: list[dict], result: UpsertResult) -> None:
        """Stored articles whose page answered 404/410 now and at the check before: withdrawn (counted in
        `result`, which count() reports in the reactor thread)."""
        gone = withdraw_gone(self.database, rejects)
        result.withdrawn, result.gone_once = len(gone.withdrawn), len(gone.first_gone)
        if gone.first_gone:
            logger.info("%d stored article(s) answered 404/410, withdrawn if the next check agrees: %s",
                        len(gone.first_gone), " ".join(gone.first_gone[:5]))
        if gone.withdrawn:
            logger.warning("%d article(s) withdrawn (their page answered 404/410 twice in a row; kept, and shown "
                           "to the change cursor as withdrawn): %s", len(gone.withdrawn), " ".join(gone.withdrawn[:5]))

    def sync_search(self) -> None:
        """The full-text index brought up to date; a failure only warns (search scans what is not indexed,
        and the next run tries again)."""
        started = time.perf_counter()
        try:
            indexed = self.database.sync_search()
        except Exception as error:
            logger.warning("could not update the full-text index: %s", self.database.error_line(error))
            return
        if indexed:
            self.stats.inc_value("cascrawl/db/search_indexed", indexed)
            self.stats.inc_value("cascrawl/db/search_index_seconds", round(time.perf_counter() - started, 3))
            logger.info("full-text index: %d articles indexed in %.2f s", indexed, time.perf_counter() - started)

    def count(self, result: UpsertResult, rejects: int, seconds: float) -> None:
        """What a written batch did, in the crawler's stats (in the reactor thread) and one log line."""
        stats = self.stats
        stats.inc_value("cascrawl/db/flushes")
        stats.max_value("cascrawl/db/flush_seconds_max", round(seconds, 4))
        stats.inc_value(stats_keys.ARTICLES_UPSERTED, result.stored)
        for name in ("inserted", "revised", "refreshed", "unchanged", "restored", "withdrawn", "gone_once"):
            if getattr(result, name):
                stats.inc_value(f"cascrawl/db/articles_{name}", getattr(result, name))
        if result.rejected:
            stats.inc_value(stats_keys.ARTICLES_REFUSED, len(result.rejected))
            for _, reason, _ in result.rejected:
                stats.inc_value(stats_keys.rejected(reason))
        if rejects:
            stats.inc_value("cascrawl/db/rejects_written", rejects)
        logger.info("stored %d articles (%d new, %d revised, %d refreshed, %d unchanged) in %.3f s",
                    result.stored, result.inserted, result.revised, result.refreshed, result.unchanged, seconds)
