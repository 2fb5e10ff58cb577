"""The item processor (Scrapy's ITEM_PROCESSOR): Scrapy's item pipeline manager, with the cleaning run
in the extraction workers.

The leading pipelines of ITEM_PIPELINES that declare `runs_in_worker = True` (text, boilerplate, copies,
dates, fields: pure functions of the item, their settings and nothing else) are run, as one step, in
the worker processes that already parse the article pages (cascrawl/extraction.py), so that the
crawler's thread, which bounds a crawl's speed, only downloads, validates and stores. Everything after
them (validation, the media archive, persistence, an operator's own pipelines) runs here as usual.

A worker builds the same pipelines from the crawl's settings. What they count and log comes back with
the item and goes into the crawl's stats and log as if counted here. An item without HTML (a rejected
fetch), a crawl with CASCRAWL_EXTRACT_PROCESSES=0, or a worker that died: the same pipelines run here,
in this thread, and store the same rows (tests/test_extraction_workers.py).
"""

from __future__ import annotations

import logging
import pickle
import traceback
from dataclasses import dataclass, field
from inspect import iscoroutinefunction

from itemadapter import ItemAdapter
from scrapy.pipelines import ItemPipelineManager
from scrapy.settings import BaseSettings, Settings
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.python import global_object_name

from cascrawl.compat import process_item_chain
from cascrawl.extraction import extraction_of

logger = logging.getLogger(__name__)

_RUNNER = f"{__name__}.WorkerCleaning"


@dataclass
class Cleaned:
    """A worker's answer: the cleaned item, the stats calls and log records the pipelines made on it, or
    the error one of them raised."""

    item: object = None
    stats: list[tuple[str, str, object]] = field(default_factory=list)  # (method, key, value)
    logs: list[tuple[str, int, str]] = field(default_factory=list)  # (logger name, level, message)
    error: BaseException | None = None
    trace: str | None = None
    in_worker: bool = False


class OffloadingItemProcessor(ItemPipelineManager):
    @classmethod
    def from_crawler(cls, crawler):
        processor = super().from_crawler(crawler)
        processor._offloadable = _leading_worker_pipelines(processor.middlewares)
        processor._workers = None
        return processor

    async def open_spider_async(self) -> None:
        await super().open_spider_async()
        workers = extraction_of(self.crawler)
        if self._offloadable and workers.processes:
            paths = [global_object_name(type(pipeline)) for pipeline in self._offloadable]
            workers.set_task(_RUNNER, (paths, _picklable(self.crawler.settings), _log_level()))
            self._workers = workers

    async def process_item_async(self, item):
        if self._workers is None or not ItemAdapter(item).get("html"):
            return await super().process_item_async(item)
        cleaned = await self._workers.run_task(item, self._clean_here)
        stats = self.crawler.stats
        if cleaned.in_worker:  # what was counted there goes into this crawl's stats
            stats.inc_value("cascrawl/clean/in_worker")
        for method, key, value in cleaned.stats:
            getattr(stats, method)(key, value)
        for name, level, message in cleaned.logs:
            logging.getLogger(name).log(level, "%s", message)
        if cleaned.error is not None:
            if cleaned.trace:
                logger.debug("in an extraction worker:\n%s", cleaned.trace)
            raise cleaned.error
        return await process_item_chain(self, _adopt(item, cleaned.item), start=len(self._offloadable))

    def _clean_here(self, item) -> Cleaned:
        """The offloaded pipelines, in this thread (no worker alive): they count into the stats directly."""
        for pipeline in self._offloadable:
            item = pipeline.process_item(item)
        return Cleaned(item=item)


def _adopt(item, cleaned):
    """The worker's cleaned copy, written into the item the spider yielded: whatever keeps track of items
    by identity (the distributed mode's leases, Scrapy's signals) still sees the same object."""
    if cleaned is item:  # cleaned here, not in a worker
        return item
    if type(cleaned) is type(item) and hasattr(item, "__dict__"):
        vars(item).update(vars(cleaned))
    else:
        ItemAdapter(item).update(ItemAdapter(cleaned))
    return item


def _leading_worker_pipelines(pipelines) -> list:
    """The pipelines at the head of the chain that may run in a worker: they say so, take the item alone
    and answer synchronously."""
    leading = []
    for pipeline in pipelines:
        process = getattr(pipeline, "process_item", None)
        if not getattr(pipeline, "runs_in_worker", False) or process is None or iscoroutinefunction(process):
            break
        leading.append(pipeline)
    return leading


def _log_level() -> int:
    """The lowest level any of this process's log handlers takes: what a worker sends back."""
    levels = [handler.level or logging.DEBUG for handler in logging.getLogger().handlers]
    return min(levels) if levels else logging.WARNING


def _picklable(settings) -> dict:
    """The crawl's settings, those a worker can receive (a class or an open object stays behind; the
    pipelines that run there read plain values)."""
    values = {}
    for name in settings:  # not copy_to_dict(): it deep-copies, and a lock or a socket does not copy either
        try:
            value = settings[name]
            if isinstance(value, BaseSettings):  # ITEM_PIPELINES and the like: as a plain dict
                value = value.copy_to_dict()
            pickle.dumps(value)
        except Exception:  # noqa: BLE001 - whatever does not pickle is simply not sent
            continue
        values[name] = value
    return values


# --- in the worker process ---


class _StatsRecorder:
    """The stats collector the pipelines get in a worker: it keeps their calls for the crawler's collector."""

    def __init__(self):
        self.calls: list[tuple[str, str, object]] = []

    def inc_value(self, key, count=1, start=0):
        self.calls.append(("inc_value", key, count))

    def max_value(self, key, value):
        self.calls.append(("max_value", key, value))

    def min_value(self, key, value):
        self.calls.append(("min_value", key, value))

    def set_value(self, key, value):
        self.calls.append(("set_value", key, value))


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.records.append((record.name, record.levelno, message))


class _WorkerCrawler:
    """What a pipeline's from_crawler reads in a worker: the crawl's settings and a stats collector."""

    def __init__(self, settings: dict):
        self.settings = Settings(settings)
        self.stats = _StatsRecorder()


class WorkerCleaning:
    """Built once in each worker from (pipeline paths, settings); called with an item, answers Cleaned."""

    def __init__(self, config):
        paths, settings, level = config
        self.crawler = _WorkerCrawler(settings)
        self.pipelines = [build_from_crawler(load_object(path), self.crawler) for path in paths]
        self.records = _Records()
        root = logging.getLogger()
        root.handlers[:] = [self.records]  # everything goes back to the crawler, which logs it
        root.setLevel(level)

    def __call__(self, item) -> Cleaned:
        self.crawler.stats.calls, self.records.records = [], []
        try:
            for pipeline in self.pipelines:
                item = pipeline.process_item(item)
        except Exception as error:  # raised in the crawler as it would have been there
            answer = Cleaned(error=error if _pickles(error) else RuntimeError(f"{type(error).__name__}: {error}"),
                             trace=traceback.format_exc())
        else:
            answer = Cleaned(item=item)
        answer.in_worker = True
        answer.stats, answer.logs = self.crawler.stats.calls, self.records.records
        return answer


def _pickles(value) -> bool:
    try:
        pickle.loads(pickle.dumps(value))
    except Exception:  # noqa: BLE001
        return False
    return True
