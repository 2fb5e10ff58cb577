"""The item processor's rules without the engine (pipelines/processor.py): which pipelines go to the
extraction worker, what the worker's side answers (the cleaned item, the stats calls, the log lines, an
error), and that the spider's item object is the one that goes on."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timezone

import pytest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

import cascrawl.settings as project_settings
from cascrawl.extraction import extraction_of
from cascrawl.items import ArticleItem
from cascrawl.pipelines.processor import OffloadingItemProcessor, WorkerCleaning, _adopt, _leading_worker_pipelines, _picklable

CLEANING = ["cascrawl.pipelines.text.TextPipeline", "cascrawl.pipelines.boilerplate.BoilerplatePipeline",
            "cascrawl.pipelines.copies.ReservedCopyPipeline", "cascrawl.pipelines.dates.PublishedDatePipeline",
            "cascrawl.pipelines.fields.FieldsPipeline", "cascrawl.pipelines.validate.ValidatePipeline"]
URL = "https://www.cas.cn/syky/202401/t20240105_6000005.shtml"


@pytest.fixture(autouse=True)
def root_logging():
    """WorkerCleaning takes the root logger over, as it should in a worker process: give it back to pytest."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _item(**fields) -> ArticleItem:
    values = dict(url=URL, fetched_url=URL, docid=6000005, section="syky", fetched_at=datetime.now(timezone.utc),
                  title="研究進展", html="<p>當(dāng)前，研究取得進展。</p><p>【打印本頁】</p>",
                  date_text="2024-01-05 10:05", date_origin="page")
    values.update(fields)
    return ArticleItem(**values)


def _cleaning(paths=CLEANING, level=logging.DEBUG) -> WorkerCleaning:
    settings = Settings()
    settings.setmodule(project_settings)
    return WorkerCleaning((paths, _picklable(settings), level))


class _Marked:
    runs_in_worker = True

    def process_item(self, item):
        return item


class _Unmarked:
    def process_item(self, item):
        return item


class _AsyncMarked:
    runs_in_worker = True

    async def process_item(self, item):
        return item


def test_only_the_leading_marked_synchronous_pipelines_go_to_the_worker():
    first, second, third = _Marked(), _Marked(), _Marked()
    assert _leading_worker_pipelines([first, second, _Unmarked(), third]) == [first, second]
    assert _leading_worker_pipelines([first, _AsyncMarked(), second]) == [first]
    assert _leading_worker_pipelines([_Unmarked(), first]) == []


def test_the_worker_side_cleans_and_sends_back_what_the_pipelines_counted_and_logged():
    answer = _cleaning()(_item())
    assert answer.in_worker and answer.error is None
    assert answer.item.text == "当前，研究取得进展。"  # gloss out, Simplified, the widget line gone
    assert answer.item.published_date.isoformat() == "2024-01-05" and answer.item.content_hash
    assert ("inc_value", "cascrawl/clean/text/articles", 1) in answer.stats
    assert ("inc_value", "cascrawl/clean/boilerplate/lines_removed", 1) in answer.stats
    assert ("inc_value", "cascrawl/validated", 1) in answer.stats
    assert ("cascrawl.pipelines.boilerplate", logging.DEBUG, f"boilerplate removed from {URL}: ['【打印本頁】']") in answer.logs


def test_log_lines_below_the_crawl_log_level_stay_in_the_worker():
    answer = _cleaning(level=logging.INFO)(_item(html=None, text=None))
    assert answer.item.reject_reason == "missing_body"
    assert [(name, level) for name, level, _ in answer.logs] == [("cascrawl.pipelines.validate", logging.WARNING)]
    assert answer.logs[0][2].startswith(f"rejected {URL}: missing_body")
    again = _cleaning(level=logging.INFO)(_item())  # each answer carries its own item's lines and counts only
    assert again.logs == [] and ("inc_value", "cascrawl/clean/text/articles", 1) in again.stats


class Broken:
    runs_in_worker = True

    @classmethod
    def from_crawler(cls, crawler):
        return cls()

    def process_item(self, item):
        raise ValueError("a pipeline bug")


def test_a_pipeline_error_in_the_worker_comes_back_to_be_raised_in_the_crawler():
    answer = _cleaning([f"{__name__}.Broken"])(_item())
    assert isinstance(answer.error, ValueError) and str(answer.error) == "a pipeline bug"
    assert "raise ValueError" in answer.trace and answer.item is None


def test_the_cleaned_copy_is_written_into_the_spiders_item():
    item, cleaned = _item(), _item(text="正文", script="simplified")
    assert _adopt(item, cleaned) is item and item.text == "正文" and item.script == "simplified"
    mapping, cleaned_mapping = {"url": URL}, {"url": URL, "text": "正文"}
    assert _adopt(mapping, cleaned_mapping) is mapping and mapping == {"url": URL, "text": "正文"}
    assert _adopt(item, item) is item


@pytest.mark.parametrize("value", [threading.Lock(), lambda: None])
def test_settings_that_do_not_pickle_stay_behind(value):
    settings = Settings({"CASCRAWL_SCRIPT": "keep"})
    settings.set("SOMETHING", value)
    sent = _picklable(settings)
    assert sent["CASCRAWL_SCRIPT"] == "keep" and "SOMETHING" not in sent


def test_with_no_worker_alive_the_cleaning_runs_here_once_and_is_not_counted_as_a_workers():
    """A crawl whose extraction workers are all gone (here: never started) cleans each item in the
    crawler's thread: the offloaded pipelines run once (not again in the chain after them), they count
    into the crawl's stats directly, and nothing is counted as cleaned in a worker."""
    settings = Settings()
    settings.setmodule(project_settings)
    cascrawl = {name: value for name, value in _picklable(settings).items() if name.startswith("CASCRAWL_")}
    crawler = get_crawler(settings_dict={**cascrawl, "ITEM_PIPELINES": {path: n for n, path in enumerate(CLEANING)}})
    workers = extraction_of(crawler)
    workers.processes = 1  # a pool with a worker to offload to, none of them alive
    processor = OffloadingItemProcessor.from_crawler(crawler)

    async def clean(item):
        await processor.open_spider_async()
        return await processor.process_item_async(item)

    item = _item()
    assert asyncio.run(clean(item)) is item
    assert item.text == "当前，研究取得进展。"  # gloss out, Simplified, the widget line gone
    stats = crawler.stats.get_stats()
    assert stats["cascrawl/clean/text/articles"] == stats["cascrawl/validated"] == 1
    assert "cascrawl/clean/in_worker" not in stats
