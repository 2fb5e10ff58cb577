"""One thread for blocking database calls beside the Twisted reactor: jobs run one at a time, in the order
given, so a slow commit never stalls downloads and parsing."""

from __future__ import annotations

import threading

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.python.threadpool import ThreadPool


def _daemon_thread(*args, **kwargs) -> threading.Thread:
    return threading.Thread(*args, daemon=True, **kwargs)


class DatabaseThread:
    def __init__(self, name: str):
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name=name)
        self._pool.threadFactory = _daemon_thread  # a crawl stopped at once must not wait for it at exit
        self._pool.start()

    def run(self, function, *args, **kwargs):
        """`function(*args, **kwargs)` in the thread, after every job given before: an awaitable of its result."""
        from twisted.internet import reactor  # the one Scrapy installed

        return maybe_deferred_to_future(threads.deferToThreadPool(reactor, self._pool, function, *args, **kwargs))

    def stop(self) -> None:
        """After the job running now, if any; jobs not begun are dropped."""
        self._pool.stop()
