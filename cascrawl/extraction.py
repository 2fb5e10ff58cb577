"""Article extraction for the crawl, off the reactor thread.

`extract` is the whole of what the spider does with an article page's bytes — decode, the size
guard, the layout parsers — as one pure function: bytes + Content-Type + URL in, plain data out. The
crawl runs it in worker processes (`ExtractionWorkers`, an extension of the crawler found with
`extraction_of(crawler)`; CASCRAWL_EXTRACT_PROCESSES, default 1), so
parsing runs on another core while the reactor thread goes on downloading and storing: in one
thread, parsing was the largest cost a crawl adds to what bare Scrapy does (docs/performance.md).
The workers take a second job the same way, given with `set_task`: the item pipelines' cleaning
(pipelines/processor.py). With 0 processes, pages are parsed in the reactor thread, as before; a
worker with CASCRAWL_EXTRACT_QUEUE jobs waiting gets no more until it answers, the reactor thread
does them (the work in flight stays bounded, and the work is shared when a worker is starved of CPU).

A worker is `python -m cascrawl.extraction`, started by the reactor (`spawnProcess`) and spoken to
over its standard input and output (length-prefixed pickles, answered in order): no thread in the
crawler's process, so nothing competes with the reactor for the GIL (concurrent.futures' process
pool adds two threads, and the reactor waited for them). A worker ignores SIGINT and SIGTERM (a
graceful stop lets the pages in flight be parsed) and ends when its input closes (the crawler closed
it) or the moment the crawler's process ends however it ends, SIGKILL included (Linux's parent-death
signal, PR_SET_PDEATHSIG; elsewhere a thread that watches the parent); an answer it can no longer
send ends it quietly. If it dies itself (killed, out of memory) no page is lost: the pages it held and
every later one are parsed in the reactor thread.

The parsers are imported when the first page comes, not with this module: a worker is bound to its
crawler's life before it spends seconds importing them.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import struct
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from itertools import cycle
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cascrawl.parsers import ArticleData

logger = logging.getLogger(__name__)

_LENGTH = struct.Struct("!I")


@dataclass
class Extracted:
    """What `extract` made of a page: the data, or why not (too many tags, a parser error)."""

    encoding: str
    page: ArticleData | None = None
    tags: int = 0  # the page's tag count when it is over the limit (not parsed)
    error: str | None = None  # "TypeName: message" of a parser that failed
    trace: str | None = None  # its traceback, for the log
    in_worker: bool = False  # parsed by a worker process (else in the crawler's thread)


def extract(body: bytes, content_type: str | bytes | None, url: str, max_tags: int) -> Extracted:
    from cascrawl.encoding import decode_html
    from cascrawl.parsers import parse_article

    html, encoding = decode_html(body, content_type)
    tags = html.count("<")
    if tags > max_tags:  # parsing costs memory by the element: ~600 bytes each, all steps together
        return Extracted(encoding, tags=tags)
    try:
        return Extracted(encoding, page=parse_article(html, url))
    except Exception as error:  # a page that breaks a parser is a recorded rejection, not a crashed callback
        return Extracted(encoding, error=f"{type(error).__name__}: {error}", trace=traceback.format_exc())


def _frame(value) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def _read_exactly(stream, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """End this process the moment `parent` ends (killed or not): the kernel sends SIGKILL on Linux; elsewhere
    a daemon thread looks every half second. Already gone (it died while this one started): end now."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):  # not Linux: no prctl
        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent:
        os._exit(0)


def worker_main() -> int:
    """The worker: read request frames, answer each in order.

    A request is ("extract", (body, content type, url, max tags)), answered with an Extracted; or
    ("configure", (factory path, config)), which builds a task runner and answers nothing; or
    ("task", payload), answered by that runner (the item pipelines' cleaning, pipelines/processor.py).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    runner = None
    while True:
        header = _read_exactly(source, _LENGTH.size)
        if header is None:
            return 0  # the crawler closed our input, or died
        request = _read_exactly(source, _LENGTH.unpack(header)[0])
        if request is None:
            return 0
        kind, payload = pickle.loads(request)
        if kind == "configure":
            from scrapy.utils.misc import load_object

            factory, config = payload
            runner = load_object(factory)(config)
            continue
        if kind == "extract":
            answer = extract(*payload)
            answer.in_worker = True
        else:
            answer = runner(payload)
        try:
            sink.write(_frame(answer))
            sink.flush()
        except BrokenPipeError:  # the crawler is gone: nobody to answer, and nothing to say on its terminal
            os._exit(0)


class _Worker:
    """One worker process, as a Twisted process protocol: requests out, answers back in the same order."""

    def __init__(self, workers: ExtractionWorkers):
        from twisted.internet import protocol

        class Protocol(protocol.ProcessProtocol):
            def outReceived(_, data: bytes) -> None:
                self._received(data)

            # Its output closing is its end: processEnded needs the child reaped on SIGCHLD, and Scrapy runs the
            # reactor without signal handlers.
            def outConnectionLost(_) -> None:
                self._ended()

        self.workers = workers
        self.protocol = Protocol()
        self.waiting: deque = deque()  # (Deferred, request, what answers it here) in the order sent
        self.buffer = bytearray()
        self.alive = True

    def send(self, request: tuple, here):
        """Send a request; `here(payload)` answers it in the crawler's thread should the worker die first."""
        from twisted.internet import defer

        answer = defer.Deferred()
        self.waiting.append((answer, request, here))
        self.protocol.transport.write(_frame(request))
        return answer

    def configure(self, configuration: tuple) -> None:
        self.protocol.transport.write(_frame(("configure", configuration)))

    def _received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= _LENGTH.size:
            size = _LENGTH.unpack_from(self.buffer)[0]
            if len(self.buffer) < _LENGTH.size + size:
                return
            with memoryview(self.buffer) as view:  # no copy of the frame before unpickling it
                answer = pickle.loads(view[_LENGTH.size:_LENGTH.size + size])
            del self.buffer[:_LENGTH.size + size]
            self.waiting.popleft()[0].callback(answer)

    def _ended(self) -> None:
        self.alive = False
        if self.workers.closing:
            return
        logger.warning("an extraction worker ended: its %d pages and every later one are parsed in the crawler's "
                       "thread", len(self.waiting))
        while self.waiting:  # answered here instead, in order
            answer, (_, payload), here = self.waiting.popleft()
            answer.callback(here(payload))

    def close(self) -> None:
        if self.alive:
            self.protocol.transport.closeStdin()  # the worker ends when its input does


class ExtractionWorkers:
    """The crawl's extraction workers, an extension (EXTENSIONS) owned by the crawler: built with it, started
    when the spider opens (the workers import the parsers while the first listing pages download), closed
    when it closes. The spider and the item processor find it with `extraction_of(crawler)`."""

    def __init__(self, processes: int, queue_limit: int = 32):
        self.processes = max(0, processes)
        self.queue_limit = max(1, queue_limit)  # requests waiting at one worker; more are done in this thread
        self.closing = False
        self._workers: list[_Worker] = []
        self._turns = None
        self._task: tuple[str, object] | None = None  # (factory path, config) of the workers' task runner

    @classmethod
    def from_crawler(cls, crawler) -> ExtractionWorkers:
        from scrapy import signals

        settings = crawler.settings
        # 0: twice what the downloader takes in at once (a burst of responses, two jobs each, fits)
        queue = settings.getint("CASCRAWL_EXTRACT_QUEUE") or 2 * settings.getint("CONCURRENT_REQUESTS")
        workers = cls(settings.getint("CASCRAWL_EXTRACT_PROCESSES"), queue)
        crawler.signals.connect(workers.start, signal=signals.spider_opened)
        crawler.signals.connect(workers.close, signal=signals.spider_closed)
        crawler.cascrawl_extraction = workers
        return workers

    def start(self) -> None:
        """Start the workers (they import the parsers meanwhile: pages sent before are answered after)."""
        if self._workers or not self.processes:
            return
        from twisted.internet import reactor

        # The reactor stopping with the workers still up (a crawl stopped at once) is no worker's death.
        reactor.addSystemEventTrigger("before", "shutdown", self.close)
        for _ in range(self.processes):
            worker = _Worker(self)
            reactor.spawnProcess(worker.protocol, sys.executable,
                                 [sys.executable, "-m", "cascrawl.extraction", str(os.getpid())],
                                 env=dict(os.environ), childFDs={0: "w", 1: "r", 2: 2})
            if self._task is not None:
                worker.configure(self._task)
            self._workers.append(worker)
        self._turns = cycle(self._workers)

    def set_task(self, factory: str, config) -> None:
        """Give the workers a second job beside extraction: `load_object(factory)(config)` is built in each
        worker (now, or when it starts) and answers `run_task` payloads. The config must pickle."""
        self._task = (factory, config)
        for worker in self._workers:
            if worker.alive:
                worker.configure(self._task)

    async def extract(self, body: bytes, content_type: str | bytes | None, url: str, max_tags: int) -> Extracted:
        return await self._call("extract", (body, content_type, url, max_tags), lambda payload: extract(*payload))

    async def run_task(self, payload, here):
        """The workers' task on `payload`; `here(payload)` instead, in this thread, when no worker is alive."""
        return await self._call("task", payload, here)

    async def _call(self, kind: str, payload, here):
        from scrapy.utils.defer import maybe_deferred_to_future

        for _ in range(len(self._workers)):
            worker = next(self._turns)
            if worker.alive and len(worker.waiting) < self.queue_limit:
                return await maybe_deferred_to_future(worker.send((kind, payload), here))
        # Every worker dead or behind (starved of CPU, a slow page): this thread does it. That bounds the
        # work in flight (what a killed crawl fetches again) and shares the work when the workers lag.
        return here(payload)

    def close(self) -> None:
        self.closing = True
        for worker in self._workers:
            worker.close()


def extraction_of(crawler) -> ExtractionWorkers:
    """The crawl's extraction workers (the extension); a crawler without the extension (a tool's, a test's
    stand-in) gets none: its pages are parsed and cleaned in its own thread."""
    workers = getattr(crawler, "cascrawl_extraction", None)
    if workers is None:
        workers = crawler.cascrawl_extraction = ExtractionWorkers(0)
    return workers


if __name__ == "__main__":  # a worker: run the module's own copy, so answers pickle as cascrawl.extraction.Extracted
    from cascrawl.extraction import die_with_parent, worker_main as main

    die_with_parent(int(sys.argv[1]))
    import cascrawl.encoding, cascrawl.parsers  # noqa: E401,F401 — now, while the first listing pages download

    raise SystemExit(main())
