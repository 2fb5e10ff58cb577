"""Real servers on loopback for fault tests: a copy of the site that counts what it serves (and can
be slowed down), and a TCP proxy in front of PostgreSQL that a test can cut and restore."""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from collections import Counter
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

from cascrawl.site_server import SiteHandler

_ARTICLE = re.compile(r"/t\d{8}_\d+\.shtml$")


class CountingSite:
    """Serve a site copy on 127.0.0.1; count requests per path (and note when each arrived, `arrivals`);
    delay article pages by `article_delay` s; answer 503 for the paths in `failing`, and `answers[path]`
    (404, 410, …) for those in `answers`; `routes` as in
    `cascrawl.site_server.serve_site`."""

    def __init__(self, root: Path, article_delay: float = 0.0, routes: dict | None = None):
        self.root, self.article_delay = root, article_delay
        self.requests: Counter[str] = Counter()
        self.arrivals: list[tuple[float, str]] = []  # (time.monotonic(), path) of every request, in arrival order
        self.failing: set[str] = set()
        self.answers: dict[str, int] = {}  # path -> an HTTP error status answered instead of the page
        self._lock = threading.Lock()
        site = self

        class Handler(SiteHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site.requests[path] += 1
                    site.arrivals.append((time.monotonic(), path))
                if site.article_delay and _ARTICLE.search(path):
                    time.sleep(site.article_delay)
                if path in site.failing:
                    self.send_error(503, "Service Unavailable")
                    return
                if path in site.answers:
                    self.send_error(site.answers[path])
                    return
                super().do_GET()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root), routes=routes))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CountingSite:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def article_requests(self) -> Counter[str]:
        with self._lock:
            return Counter({path: n for path, n in self.requests.items() if _ARTICLE.search(path)})

    def listing_requests(self) -> int:
        with self._lock:
            return sum(n for path, n in self.requests.items() if "index" in path or path.endswith("/"))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.arrivals.clear()


class TcpProxy:
    """Forward 127.0.0.1:<port> to a target; `cut()` drops every connection and refuses new ones
    (the database is gone, as far as the client can tell), `restore()` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stopping = False

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (b if source is a else a).sendall(data)
        except (OSError, ValueError):  # ValueError: cut() closed a socket while select() waited on it
            return
        finally:
            for sock in (a, b):
                try:
                    sock.close()
                except OSError:
                    pass

    def cut(self) -> None:
        if self._listener is not None:
            try:  # wakes the accepting thread up (a bare close() would leave it accepting on Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            connections, self._connections = self._connections, []
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def restore(self) -> None:
        self.start()

    def close(self) -> None:
        self.cut()
