"""The adapters around Scrapy's private API (cascrawl/compat.py) against the installed Scrapy: each test fails
when an upgrade renames, moves or changes what an adapter relies on, before a crawl does."""

from __future__ import annotations

import asyncio
import inspect
import warnings

import scrapy
from packaging.version import Version
from scrapy import Spider
from scrapy.pipelines import ItemPipelineManager
from scrapy.pipelines import media as scrapy_media
from scrapy.pipelines.files import FilesPipeline
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from cascrawl import compat
from cascrawl.pipelines.media import MediaArchivePipeline, MediaFetchFailed


class _First:
    def process_item(self, item):
        return {**item, "trail": [*item["trail"], "first"]}


class _AsksForTheSpider:  # the old signature Scrapy still serves (with a deprecation warning)
    def process_item(self, item, spider):
        return {**item, "trail": [*item["trail"], f"spider:{spider.name}"]}


class _Async:
    async def process_item(self, item):
        return {**item, "trail": [*item["trail"], "async"]}


def _opened_manager() -> ItemPipelineManager:
    pipelines = {f"{__name__}.{name}": order for order, name in enumerate(("_First", "_AsksForTheSpider", "_Async"))}
    crawler = get_crawler(Spider, {"ITEM_PIPELINES": pipelines})
    crawler.spider = Spider(name="probe")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecation warning for the spider argument
        return ItemPipelineManager.from_crawler(crawler)


def _run(coroutine):
    return asyncio.run(coroutine)


def test_the_chain_from_the_start_is_scrapys_own_chain():
    manager = _opened_manager()
    ours = _run(compat.process_item_chain(manager, {"trail": []}, start=0))
    scrapys = _run(manager.process_item_async({"trail": []}))
    assert ours == scrapys == {"trail": ["first", "spider:probe", "async"]}


def test_the_chain_from_a_later_pipeline_skips_the_ones_before_it():
    manager = _opened_manager()
    assert _run(compat.process_item_chain(manager, {"trail": []}, start=1)) == {"trail": ["spider:probe", "async"]}
    assert _run(compat.process_item_chain(manager, {"trail": []}, start=3)) == {"trail": []}


def test_the_manager_internals_the_chain_reads_are_there():
    manager = _opened_manager()
    methods = list(manager.methods["process_item"])
    assert [method.__self__.__class__.__name__ for method in methods] == ["_First", "_AsksForTheSpider", "_Async"]
    assert manager._mw_methods_requiring_spider == {methods[1]}
    assert manager._spider.name == "probe"
    assert "_warn" in inspect.signature(compat.ensure_awaitable).parameters


def test_the_store_credentials_reach_the_file_stores():
    settings = Settings({"AWS_ACCESS_KEY_ID": "key-id", "AWS_SECRET_ACCESS_KEY": "secret", "GCS_PROJECT_ID": "project",
                         "FTP_USER": "someone", "FTP_PASSWORD": "word"})
    stores = FilesPipeline.STORE_SCHEMES
    before = {scheme: dict(vars(stores[scheme])) for scheme in ("s3", "gs", "ftp")}
    try:
        compat.update_file_stores(MediaArchivePipeline, settings)
        assert (stores["s3"].AWS_ACCESS_KEY_ID, stores["s3"].AWS_SECRET_ACCESS_KEY) == ("key-id", "secret")
        assert stores["gs"].GCS_PROJECT_ID == "project"
        assert (stores["ftp"].FTP_USERNAME, stores["ftp"].FTP_PASSWORD) == ("someone", "word")
    finally:  # the stores are classes: put back what other tests see
        for scheme in before:
            for name, value in before[scheme].items():
                if not name.startswith("__"):
                    setattr(stores[scheme], name, value)


def test_a_failed_media_file_is_the_kind_scrapy_logs_quietly():
    assert issubclass(MediaFetchFailed, compat.FileException)
    assert compat.FileException.__name__ == "FileException" and issubclass(compat.FileException, Exception)
    if Version(scrapy.__version__) >= Version("2.18"):
        # From 2.18 Scrapy logs its own "filtered" FileException in one line: losing it would log every 404
        # image of a crawl as an ERROR with a traceback.
        assert compat.QuietFileException is scrapy_media._MediaRequestFiltered
        assert scrapy_media._media_request_filtered(_failure(MediaFetchFailed("http_404", "gone")))
    else:
        assert compat.QuietFileException is compat.FileException


def _failure(error):
    from twisted.python.failure import Failure

    try:
        raise error
    except type(error):
        return Failure()
