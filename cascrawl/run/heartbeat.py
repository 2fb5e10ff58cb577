"""The heartbeat of a running crawl, an extension (EXTENSIONS in cascrawl/settings.py): every
CASCRAWL_HEARTBEAT_SECONDS the run's row gets `heartbeat_at` and its counts so far (`live`), so that readers
show a live run's progress and tell a dead run (stale heartbeat, run lock free) from a live one at once. A
distributed worker beats its own `run_workers` row too (its counts; a silent worker reads as dead).

Cheap and beside the crawl: a handful of counts taken from the stats in the reactor thread, one UPDATE in a
daemon thread of its own (never joined: a beat hanging on a database away cannot hold up the end of the
crawl); a beat still being written when the next is due is skipped, and a database that fails or hangs costs
a debug line, never the crawl. Finds the run's id and database through the run record
(cascrawl/run/record.py), which it only reads.
"""

from __future__ import annotations

import logging
import threading

from scrapy import signals
from scrapy.exceptions import NotConfigured

from cascrawl import stats_keys
from cascrawl.db import runs
from cascrawl.run.record import RunRecord

logger = logging.getLogger(__name__)

# The counts a beat carries: what `runs`, `runs show` and /runs show of a run (cascrawl/api/records.py).
LIVE_KEYS = (
    stats_keys.LISTING_PAGES, stats_keys.ARTICLES_UPSERTED, stats_keys.ARTICLES_INSERTED,
    stats_keys.ARTICLES_REVISED, stats_keys.ARTICLES_REFRESHED, stats_keys.ARTICLES_UNCHANGED,
    stats_keys.ARTICLES_SPOOLED, stats_keys.REQUEST_COUNT, "downloader/response_count", "item_scraped_count",
)


def live_counts(stats: dict, interval: float) -> dict:
    """The beat's document: the counts so far (rejects by reason included) and the interval, by which a
    reader judges the beat stale."""
    counts = {key: stats[key] for key in LIVE_KEYS if isinstance(stats.get(key), int)}
    counts.update({key: value for key, value in stats.items()
                   if key.startswith(stats_keys.REJECTED_PREFIX) and isinstance(value, int)})
    return {**counts, "interval": interval}


class Heartbeat:
    def __init__(self, crawler, interval: float):
        self.crawler = crawler
        self.interval = interval
        self.timer = None
        self._pending = False  # a beat being written: the next one waits for the one after
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        interval = crawler.settings.getfloat("CASCRAWL_HEARTBEAT_SECONDS")
        if interval <= 0:
            raise NotConfigured("heartbeat off (CASCRAWL_HEARTBEAT_SECONDS=0)")
        return cls(crawler, interval)

    def spider_opened(self) -> None:
        from twisted.internet import task

        self.timer = task.LoopingCall(self.beat)
        self.timer.start(self.interval, now=True)

    def beat(self) -> None:
        """One beat, if the run is recorded and the last beat is written (in the reactor thread: reads the stats)."""
        record = self.crawler.get_extension(RunRecord)
        if self._pending or record is None or record.run_id is None or record.database is None:
            return
        live = live_counts(self.crawler.stats.get_stats(), self.interval)
        self._pending = True
        threading.Thread(target=self._write, args=(record.database, record.run_id, record.worker_row, live),
                         name="cascrawl-heartbeat", daemon=True).start()

    def _write(self, database, run_id: int, worker_row: int | None, live: dict) -> None:
        """In the heartbeat's thread: never raises (a database away or locked now is the crawl's to ride out).
        A distributed worker's counts go to its own row (readers sum them); the run's row, every worker's,
        gets only the sign of life."""
        try:
            if worker_row is not None:
                runs.beat_worker(database, worker_row, live)
                runs.beat(database, run_id, {"interval": self.interval})
            else:
                runs.beat(database, run_id, live)
        except Exception as error:
            logger.debug("heartbeat of run %s not written: %s", run_id, error)
        finally:
            self._pending = False

    def spider_closed(self) -> None:
        if self.timer is not None and self.timer.running:
            self.timer.stop()  # a beat being written ends on its own: a closed run's row is left alone (runs.beat)
