"""The private parts of Scrapy that cascrawl relies on, each behind one adapter here, so that an upgrade that
changes one breaks in this module and in tests/test_compat.py, not in the middle of a crawl.

- `process_item_chain`: the item pipeline manager's chain (`MiddlewareManager._process_chain`: its
  `methods["process_item"]`, `_mw_methods_requiring_spider` and `_spider`), run from the n-th pipeline on:
  the item processor (pipelines/processor.py) runs the leading pipelines in a worker and the rest here.
- `update_file_stores`: `FilesPipeline._update_stores`, which hands the S3/GCS/FTP credentials in the
  settings to the file store classes; FilesPipeline.from_crawler calls it, and so must a subclass that
  builds itself differently (pipelines/media.py).
- `QuietFileException`: `scrapy.pipelines.media._MediaRequestFiltered` (Scrapy 2.18+), the FileException
  a media pipeline logs in one DEBUG line instead of an ERROR with a traceback; FileException before that
  (whose home moved in 2.18: `FileException`).

(scrapy-redis's private `_encode_request` has its adapter with the distributed mode.)
Imports only Scrapy."""

from __future__ import annotations

from typing import Any

from scrapy.pipelines import files as _scrapy_files
from scrapy.pipelines import media as _scrapy_media
from scrapy.pipelines.files import FilesPipeline
from scrapy.settings import BaseSettings
from scrapy.utils.defer import ensure_awaitable
from scrapy.utils.python import global_object_name

# Scrapy 2.18 moved FileException from scrapy.pipelines.files to scrapy.pipelines.media (files keeps a private alias).
FileException: type[Exception] = getattr(_scrapy_media, "FileException", None) or _scrapy_files.FileException
QuietFileException: type[Exception] = getattr(_scrapy_media, "_MediaRequestFiltered", FileException)


async def process_item_chain(manager, item: Any, start: int = 0) -> Any:
    """Run `item` through the process_item methods of an opened ItemPipelineManager from the `start`-th on,
    as Scrapy's own chain does: a pipeline whose process_item still asks for the spider gets it, and what a
    method returns (an item, a Deferred, a coroutine) is awaited."""
    requiring_spider = manager._mw_methods_requiring_spider
    for method in list(manager.methods["process_item"])[start:]:
        args = (item, manager._spider) if method in requiring_spider else (item,)
        item = await ensure_awaitable(method(*args), _warn=global_object_name(method))
    return item


def update_file_stores(pipeline_class: type[FilesPipeline], settings: BaseSettings) -> None:
    """Hand the store credentials in `settings` (AWS_*, GCS_PROJECT_ID, FTP_*) to the pipeline's file stores."""
    pipeline_class._update_stores(settings)
