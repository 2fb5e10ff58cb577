"""The crawl stats keys that more than one module writes or reads, each spelled once.

A stats key is an interface: the spider, the pipelines and the extensions write them; the exit summary
(cascrawl/crawl.py), the run record (persist), the health check, the API's run pages and the distributed
mode read them back, in this process or from a stored run's stats. A key spelled as a string in two places
can drift apart without a test noticing; a constant cannot. Keys only one module uses stay in that module.
The values are part of the stored runs' stats: never change one.

Imports nothing."""

from __future__ import annotations

# --- Scrapy's own ---
FINISH_REASON = "finish_reason"
REQUEST_COUNT = "downloader/request_count"

# --- the run ---
RUN_ID = "cascrawl/db/run_id"  # the id of the run's row in `runs`, set when the run is recorded
RUN_LOCKED = "cascrawl/run_locked"  # another crawl holds the database's run lock: this one stopped at once
FIRST_FETCH_ERROR = "cascrawl/first_fetch_error"  # why the first request failed (the site unreachable)
HEALTH_STATUS = "cascrawl/health/status"  # the run's health verdict (cascrawl/health.py)
HEALTH_PROBLEMS = "cascrawl/health/problems"  # what made it so
HEALTH_FINDINGS = "cascrawl/health/findings"  # the same, as {code, names, text} entries
VERDICT_PROBLEMS = "cascrawl/verdict/problems"  # the run's problems, {code, names, text} each (cascrawl/run/verdict.py)

# --- the walk of the listing pages ---
LISTING_PAGES = "cascrawl/listing_pages"
LISTING_FETCH_FAILED = "cascrawl/listing_fetch_failed"
SECTIONS_MISSING = "cascrawl/sections_missing"  # sections whose first listing page does not exist
SECTIONS_MISSING_NAMES = "cascrawl/sections_missing_names"  # which: their slugs
SECTIONS_FAILED_NAMES = "cascrawl/sections_failed_names"  # sections whose first listing page failed after retries
WALKS_INCOMPLETE = "cascrawl/walks/incomplete"  # sections not walked to where they should end
WALKS_UNREAD_PAGES = "cascrawl/walks/unread_pages"  # listing pages a walk could not read
WALKS_DEEP = "cascrawl/walks/deep"  # sections walked down to their last listing page (late articles)

# --- the incremental walk (written by the spider, told in words by cascrawl/run/mode.py) ---
INCREMENTAL_KNOWN_ARTICLES = "cascrawl/incremental/known_articles"  # stored articles the walk skips
INCREMENTAL_REJECTED_WAITING = "cascrawl/incremental/rejected_waiting"  # rejected pages not due again yet
INCREMENTAL_KNOWN_SKIPPED = "cascrawl/incremental/known_entries_skipped"  # listing entries already stored
INCREMENTAL_STOPPED_EARLY = "cascrawl/incremental/sections_stopped_early"  # walks stopped at the last walk's start
INCREMENTAL_LATE_ENTRIES = "cascrawl/incremental/late_entries"  # entries below that boundary not yet stored
INCREMENTAL_CUT_BY_MAX_PAGES = "cascrawl/incremental/walks_cut_by_max_pages"  # walks cut by CASCRAWL_MAX_PAGES
REFETCH_DUE = "cascrawl/refetch/due"  # rejected pages due again, requested directly
REFRESH_REQUESTED = "cascrawl/refresh/requested"  # recent articles re-fetched (CASCRAWL_REFRESH_DAYS)

# --- extraction ---
COVERAGE_PAGES = "cascrawl/coverage/pages"  # article pages parsed: the base of the coverage shares
GENERIC_FALLBACK = "cascrawl/extract/generic_fallback"  # pages no CAS layout parsed (a redesign shows here)

# --- storage ---
ARTICLES_INSERTED = "cascrawl/db/articles_inserted"
ARTICLES_REVISED = "cascrawl/db/articles_revised"
ARTICLES_UNCHANGED = "cascrawl/db/articles_unchanged"
ARTICLES_REFRESHED = "cascrawl/db/articles_refreshed"
ARTICLES_UPSERTED = "cascrawl/db/articles_upserted"
ARTICLES_SPOOLED = "cascrawl/db/articles_spooled"  # written to the spool during a database outage
ARTICLES_REFUSED = "cascrawl/db/articles_refused"
ARTICLES_LOST = "cascrawl/db/articles_lost"  # neither stored nor spooled
SPOOLED = "cascrawl/db/spooled"

# --- the WARC archive (cascrawl/archive/) ---
WARC_DIR = "cascrawl/warc/dir"  # the archive folder the run wrote to
WARC_RECORDS = "cascrawl/warc/records"  # WARC records written (a response and its request: two)
WARC_BYTES = "cascrawl/warc/bytes"  # bytes written to the archive's files
WARC_FILES = "cascrawl/warc/files"  # files this run opened
WARC_GAPS = "cascrawl/warc/gaps"  # responses whose records could not be written (disk full, …)
WARC_EARLIER_UNCLOSED = "cascrawl/warc/earlier_unclosed"  # files an earlier crawl left open (killed)
WARC_EARLIER_TORN = "cascrawl/warc/earlier_torn"  # … of which end with a torn record

# --- the distributed mode ---
REDIS_WORKER = "cascrawl/redis/worker"  # this worker's name in the shared run
REDIS_STOPPED = "cascrawl/redis/stopped"  # the worker gave up on Redis
REDIS_OUTAGE_SECONDS = "cascrawl/redis/outage_seconds"

# --- a re-extraction run from the archive (cascrawl/reparse/; its verdict: cascrawl/run/verdict.py) ---
REPARSE_EXAMINED = "cascrawl/reparse/examined"  # stored articles read back and run through today's code
REPARSE_CHANGED = "cascrawl/reparse/changed"  # … that came out different (stored, unless a dry run)
REPARSE_UNCHANGED = "cascrawl/reparse/unchanged"  # … that came out the same (nothing written)
REPARSE_SKIPPED = "cascrawl/reparse/skipped"  # … not re-extracted: by reason under reparse_skipped(reason)
REPARSE_TEMPLATES = "cascrawl/reparse/template/"  # the head of reparse_template(parser id)

# --- keys with a part that varies ---
REJECTED_PREFIX = "cascrawl/rejected/"  # + the reject reason: items rejected, by reason


def rejected(reason: str) -> str:
    """Items rejected for `reason` (missing_body, http_404, …)."""
    return f"{REJECTED_PREFIX}{reason}"


def coverage(field: str) -> str:
    """Article pages on which `field` (title, date, body, source, …) was found."""
    return f"cascrawl/coverage/{field}"


def section_listing_pages(section: str) -> str:
    return f"cascrawl/section/{section}/listing_pages"


def section_entries(section: str) -> str:
    """Listing entries a section's walk read."""
    return f"cascrawl/section/{section}/entries"


def reparse_changed(field: str) -> str:
    """Re-extracted articles whose `field` (text, title, source, template, …) changed."""
    return f"{REPARSE_CHANGED}/{field}"


def reparse_skipped(reason: str) -> str:
    """Articles not re-extracted for `reason` (not_archived, archive_unreadable, rejected/missing_title, …)."""
    return f"{REPARSE_SKIPPED}/{reason}"


def reparse_template(template: str | None) -> str:
    """Re-extracted articles that changed, by the parser that parsed them today."""
    return f"{REPARSE_TEMPLATES}{template or '(none)'}/changed"
