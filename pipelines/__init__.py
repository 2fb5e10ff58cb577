"""Item pipelines, in this order (ITEM_PIPELINES in cascrawl/settings.py):

text -> boilerplate -> copies (pinyin glosses, script, canonical URL) -> dates -> fields -> validate
-> media (the opt-in archive of each article's files) -> persist.

Each pipeline does one job, is built by `from_crawler`, reads its `CASCRAWL_*` settings there and
counts what it did in the crawler's stats. Those from text to validate declare `runs_in_worker`: they
are pure functions of the item and the settings, and the item processor (pipelines/processor.py) runs
them in the extraction worker processes, off the crawler's thread; their counts and log lines come back. Items are read and written through ItemAdapter only. No
pipeline drops an item: a pipeline that finds a reason to reject sets `reject_reason` and
`reject_detail` (the first reason wins), validation makes the final call and persistence writes
rejected items to the `rejects` table.
"""

from __future__ import annotations

from itemadapter import ItemAdapter
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import build_from_crawler, load_object

import cascrawl.settings as project_settings

PERSIST = "cascrawl.pipelines.persist.PersistPipeline"
MEDIA = "cascrawl.pipelines.media.MediaArchivePipeline"


class StatsPipeline:
    """Base of the pipelines that need nothing from the crawler but its stats collector."""

    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)


def setting(settings, name: str):
    """A cascrawl setting: the crawler's value, else the project default from cascrawl/settings.py.

    A crawler built without the project's settings module (a test's `get_crawler`, a script) still
    gets the documented defaults.
    """
    value = settings.get(name)
    return getattr(project_settings, name) if value is None else value


def reject(adapter: ItemAdapter, reason: str, detail: str) -> bool:
    """Mark the item as rejected unless an earlier pipeline already did; True if this reason was set."""
    if adapter.get("reject_reason"):
        return False
    adapter["reject_reason"], adapter["reject_detail"] = reason, detail
    return True


def cleaning_pipeline_paths(settings) -> list[str]:
    """The configured item pipelines that run before persistence, in ITEM_PIPELINES order (the project's
    when the settings have none), without the media archive (it fetches files)."""
    configured = settings.getwithbase("ITEM_PIPELINES")
    ordered = build_component_list(configured if configured else project_settings.ITEM_PIPELINES)
    if PERSIST in ordered:
        ordered = ordered[:ordered.index(PERSIST)]
    return [path for path in ordered if path != MEDIA]


def cleaning_pipelines(crawler) -> list:
    """`cleaning_pipeline_paths`, built for `crawler`: what cleans an item without an engine or a database
    (tests, the benchmarks, `cascrawl extract`)."""
    return [build_from_crawler(load_object(path), crawler) for path in cleaning_pipeline_paths(crawler.settings)]
