"""The WARC archive in a crawl: a downloader middleware that takes each response as it came off the wire
(before HttpCompressionMiddleware decodes it, so the body is the one served), and the extension that owns
the writer thread, the archive's stats and the record locations the store asks for.

The record id of a response is made when the middleware sees it (request.meta, so the article item can
carry it); where its record lands (file, offset) is known once the writer thread has written it. The store
asks for the locations of a batch before writing it (`ArchiveWriter.locate`, from its database thread):
that waits until the writer has written (or failed to write) those records, so a row never gets an offset
that is not its record's. A record that could not be written (disk full) is a gap: counted, its row left
without a record, the crawl goes on; the run's verdict names it (archive_gap).

A crawl killed while writing leaves its last file with a marker beside it (`<file>.open`, removed when the
file is closed): the next run reads that file, says whether it ends with a torn record, and writes to new
files of its own (a file is never appended to)."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured

from cascrawl import stats_keys
from cascrawl.archive import RECORD_ID_META
from cascrawl.archive.paths import archive_dir
from cascrawl.archive.reader import torn_offset
from cascrawl.archive.writer import (
    SUFFIX, ArchiveFiles, Exchange, RecordLocation, encode_exchange, file_stem, new_record_id,
)

logger = logging.getLogger(__name__)

OPEN_MARKER = ".open"  # beside a file being written; left behind by a killed crawl
_KEPT_LOCATIONS = 50_000  # record locations kept for the store to ask for (the oldest forgotten first)
_QUEUE = 1000  # exchanges waiting for the writer thread; past it the crawler's thread waits for it
_BATCH = 64  # exchanges handed to the writer thread at once (or what there is, every _HAND_OVER_SECONDS)
_HAND_OVER_SECONDS = 0.2
_STOP = object()


def archive_of(crawler) -> ArchiveWriter | None:
    """The crawl's archive writer (the extension), or None when the archive is off."""
    return getattr(crawler, "cascrawl_archive", None)


def _headers(headers) -> list[tuple[str, str]]:
    """Scrapy's Headers (bytes, several values a name) as (name, value) pairs, in order."""
    pairs = []
    for key, values in headers.items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        for value in values:
            pairs.append((name, value.decode("latin-1") if isinstance(value, bytes) else str(value)))
    return pairs


def exchange_of(request, response, record_id: str) -> Exchange:
    """The exchange as it went over the wire, from Scrapy's request and raw response."""
    request_headers = _headers(request.headers)
    if not any(name.lower() == "host" for name, _ in request_headers):  # added by the HTTP client itself
        request_headers.insert(0, ("Host", urlsplit(request.url).netloc))
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    ip = getattr(response, "ip_address", None)
    return Exchange(
        url=response.url, status=response.status, response_headers=_headers(response.headers),
        body=response.body, record_id=record_id, method=request.method, request_headers=request_headers,
        request_body=request.body or b"", reason=reason, protocol=getattr(response, "protocol", None) or "HTTP/1.1",
        ip=str(ip) if ip is not None else None,
        truncated="disconnect" if "dataloss" in (response.flags or []) else None,
    )


class WarcMiddleware:
    """Each response handed to the archive as received (DOWNLOADER_MIDDLEWARES: above
    HttpCompressionMiddleware's 590 and RedirectMiddleware's 600, so redirects and retried answers are
    archived too, with their bodies still encoded); its record id put in request.meta."""

    def __init__(self, archive: ArchiveWriter):
        self.archive = archive

    @classmethod
    def from_crawler(cls, crawler):
        archive = archive_of(crawler)
        if archive is None:
            raise NotConfigured
        return cls(archive)

    def process_response(self, request, response):
        record_id = self.archive.add(request, response)
        if record_id is not None:
            request.meta[RECORD_ID_META] = record_id
        return response


class ArchiveWriter:
    """The extension (EXTENSIONS): the writer thread and its bounded queue, the files of this run (and
    worker), the stats (records, bytes, files, gaps) and the record locations."""

    def __init__(self, crawler, directory: Path, max_bytes: int):
        self.crawler = crawler
        self.stats = crawler.stats
        self.directory = directory
        self.max_bytes = max_bytes
        self.files: ArchiveFiles | None = None  # opened with the first exchange (the run id is known then)
        # The hand-off to the writer thread takes no lock the writer holds: SimpleQueue (C, lock-free for the
        # crawler's thread), sequence numbers from itertools.count, a dict set by the crawler's thread alone.
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._batch: list[tuple[int, str, bytes]] = []  # built, not yet handed over (the crawler's thread)
        self._timer = None
        self._thread: threading.Thread | None = None
        self._numbers = itertools.count(1)
        self._number_of: dict[str, int] = {}  # record id -> its place in the queue, until written
        self._written = 0  # the number of the last exchange the writer is done with (written or a gap)
        self._locations: OrderedDict[str, RecordLocation | None] = OrderedDict()
        self._done = threading.Condition()  # between the writer and the store's thread only
        self._failing: str | None = None  # why the last write failed, while writes keep failing
        self._closed = False
        self._closed_files = False  # the writer thread has ended
        crawler.cascrawl_archive = self
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        directory = archive_dir(crawler.settings)
        if directory is None:
            raise NotConfigured
        return cls(crawler, directory, crawler.settings.getint("CASCRAWL_WARC_MAX_BYTES"))

    # --- the crawler's thread ---

    def add(self, request, response) -> str | None:
        """A response to archive: its records built here (a fraction of a millisecond), queued for the
        writer thread (waiting for room when it lags `_QUEUE` exchanges behind); its record id.

        Why built here and not in the writer thread: a Python thread doing CPU work beside the reactor
        holds the GIL that the reactor needs back after each system call, and that slowed the crawl by
        10-25% (scripts/bench_crawl.py --archive-ab); the writer thread only writes (system calls, which
        release the GIL), so a slow disk never stalls the reactor."""
        if self._closed:
            return None
        if self._thread is None:
            self._start()
        exchange = exchange_of(request, response, record_id=new_record_id())
        try:
            data = encode_exchange(exchange)[0]
        except Exception as error:  # a response warcio cannot encode is a gap, never a failed crawl
            logger.error("a response could not be made into WARC records (%s: %s): %s", type(error).__name__,
                         error, response.url)
            self.stats.inc_value(stats_keys.WARC_GAPS)
            return None
        number = next(self._numbers)
        self._number_of[exchange.record_id] = number
        self._batch.append((number, exchange.record_id, data))
        if len(self._batch) >= _BATCH:
            self._hand_over()
        return exchange.record_id

    def _hand_over(self) -> None:
        """The records built so far to the writer thread, in one go: waking a thread costs the reactor the
        GIL each time, and on a loaded machine a scheduling delay too (in the crawler's thread)."""
        if not self._batch:
            return
        while self._queue.qsize() * _BATCH >= _QUEUE and self._thread.is_alive():
            time.sleep(0.005)  # the disk is slower than the crawl: fetching waits for it
        batch, self._batch = self._batch, []
        self._queue.put(batch)

    def _start(self) -> None:
        run_id = self.stats.get_value(stats_keys.RUN_ID)
        worker = self.stats.get_value(stats_keys.REDIS_WORKER)
        stem = file_stem(run_id, worker)
        self.files = ArchiveFiles(self.directory, stem, self.max_bytes,
                                  info={"software": "cascrawl", "format": "WARC File Format 1.1",
                                        "cascrawl-run": str(run_id), **({"cascrawl-worker": worker} if worker else {})})
        self.stats.set_value(stats_keys.WARC_DIR, str(self.directory))
        self._thread = threading.Thread(target=self._work, args=(run_id,), name="cascrawl-warc", daemon=True)
        self._thread.start()
        from twisted.internet import task

        self._timer = task.LoopingCall(self._hand_over)
        self._timer.start(_HAND_OVER_SECONDS, now=False)

    def _check_earlier_files(self, run_id) -> None:
        """Files a killed crawl left open (their marker still there): each read to its end once, its torn last
        record (if any) reported; this run writes to new files whatever they hold."""
        try:
            markers = sorted(self.directory.glob(f"*{SUFFIX}{OPEN_MARKER}"))
        except OSError:
            return
        for marker in markers:
            path = marker.with_name(marker.name[: -len(OPEN_MARKER)])
            if path.name.startswith(file_stem(run_id) + "-"):
                continue  # this run's: another worker of a distributed run, still writing
            try:
                torn = torn_offset(path)
            except OSError:
                continue
            self.stats.inc_value(stats_keys.WARC_EARLIER_UNCLOSED)
            if torn is None:
                logger.warning("the WARC file %s was left open by an earlier crawl (killed?); its records are whole. "
                               "This run writes to new files", path)
            else:
                self.stats.inc_value(stats_keys.WARC_EARLIER_TORN)
                logger.warning("the WARC file %s was left open by an earlier crawl (killed while writing): it ends with "
                               "a truncated record at offset %d, which readers skip. This run writes to new files",
                               path, torn)
            try:
                marker.unlink()
            except OSError:
                pass

    # --- the writer thread ---

    def _work(self, run_id) -> None:
        self._check_earlier_files(run_id)  # here, not in the crawler's thread: it reads whole files
        while True:
            batch = self._queue.get()
            if batch is _STOP:
                break
            for job in batch:
                self._write(*job)
            with self._done:
                self._done.notify_all()
        self._close_files()
        with self._done:
            self._closed_files = True
            self._done.notify_all()

    def _write(self, number: int, record_id: str, data: bytes) -> None:
        files = self.files
        before_files, before_bytes = len(files.files), files.bytes_written
        location: RecordLocation | None
        try:
            location = files.write_encoded(data, record_id)
        except Exception as error:  # OSError: disk full, … ; anything else must not stop the writer either
            location = None
            self.stats.inc_value(stats_keys.WARC_GAPS)
            why = (error.strerror or str(error)) if isinstance(error, OSError) else f"{type(error).__name__}: {error}"
            if self._failing != why:
                logger.error("the WARC archive cannot be written (%s, in %s): the crawl goes on storing articles; "
                             "responses not archived are counted as a gap", why, self.directory)
            self._failing = why
        else:
            if self._failing is not None:
                logger.warning("the WARC archive is written again; %d response(s) were not archived (a gap)",
                               self.stats.get_value(stats_keys.WARC_GAPS, 0))
            self._failing = None
            self.stats.inc_value(stats_keys.WARC_RECORDS, 2)
        self._mark_files(before_files)
        if files.bytes_written != before_bytes:
            self.stats.inc_value(stats_keys.WARC_BYTES, files.bytes_written - before_bytes)
        with self._done:
            self._locations[record_id] = location
            self._number_of.pop(record_id, None)
            self._written = number
            while len(self._locations) > _KEPT_LOCATIONS:
                self._locations.popitem(last=False)

    def _mark_files(self, before: int) -> None:
        """A file opened (or rotated to) since `before`: counted, marked open; the one closed unmarked."""
        files = self.files
        if len(files.files) == before:
            return
        for name in files.files[max(0, before - 1):-1]:
            _unmark(self.directory / name)
        self.stats.set_value(stats_keys.WARC_FILES, len(files.files))
        self.stats.set_value("cascrawl/warc/files_names", list(files.files))
        try:
            (self.directory / (files.files[-1] + OPEN_MARKER)).touch()
        except OSError:
            pass

    def _close_files(self) -> None:
        if self.files is not None:
            self.files.close()
            if self.files.files:
                _unmark(self.directory / self.files.files[-1])

    # --- the store (its database thread) ---

    def locate(self, record_ids, timeout: float = 120.0) -> dict[str, RecordLocation]:
        """Where these records are, once the writer has written them (waits for it, at most `timeout` in
        all); a record not written (a gap), not known or not written in time is left out."""
        wanted = [record_id for record_id in record_ids if record_id]
        found: dict[str, RecordLocation] = {}
        last = max((self._number_of.get(record_id, 0) for record_id in wanted), default=0)
        if last > self._written:
            self._hand_over_soon()
        with self._done:
            self._done.wait_for(lambda: self._written >= last or self._closed_files, timeout=timeout)
            for record_id in wanted:
                location = self._locations.get(record_id)
                if location is not None:
                    found[record_id] = location
        return found

    def fill(self, rows: list[dict], timeout: float = 120.0) -> None:
        """Each row's WARC record columns from its item's record id (cleared when there is no record)."""
        rows = [row for row in rows if not row.get("warc_file")]  # filled already (a batch written again)
        found = self.locate([row.get("warc_record_id") for row in rows], timeout)
        for row in rows:
            location = found.get(row.get("warc_record_id"))
            row["warc_file"] = location.warc_file if location else None
            row["warc_offset"] = location.offset if location else None
            row["warc_record_id"] = location.record_id if location else None

    def _hand_over_soon(self) -> None:
        """From another thread: the crawler's thread hands over what it has built (the store waits for it)."""
        from twisted.internet import reactor

        try:
            reactor.callFromThread(self._hand_over)
        except Exception:  # the reactor is gone: finish() hands everything over
            pass

    # --- the end ---

    def finish(self) -> None:
        """Everything queued written, the file closed (blocking: from a thread, or at the very end)."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()

    async def close(self) -> None:
        """What is built handed over, then `finish` in a thread of its own: the reactor goes on meanwhile."""
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import threads

        if self._timer is not None and self._timer.running:
            self._timer.stop()
        if not self._closed:
            self._hand_over()
        await maybe_deferred_to_future(threads.deferToThread(self.finish))

    async def spider_closed(self) -> None:
        await self.close()


def _unmark(path: Path) -> None:
    try:
        path.with_name(path.name + OPEN_MARKER).unlink()
    except OSError:
        pass
