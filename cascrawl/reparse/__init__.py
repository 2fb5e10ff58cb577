"""Re-extraction from the WARC archive (`cascrawl reparse`): stored articles run again through today's
decoding, parsers and cleaning pipelines from their archived responses, no network, stored the way a crawl
stores. worker.py: one article (read, parse, clean, compare); compare.py: the pure comparison; run.py: the
run (selection, process pool, writes in batches, the run lock and record)."""

from cascrawl.reparse.run import RUN_KIND, RUN_KIND_SETTING, Options, Report, Reparse

__all__ = ["RUN_KIND", "RUN_KIND_SETTING", "Options", "Report", "Reparse"]
