"""Serve a saved copy of the site on 127.0.0.1, as www.cas.cn's own server would: for `cascrawl demo` (the
copy shipped in the package) and the tests (the repository's fixtures/site, tests/support/fixture_site.py).

Imports only the standard library."""

from __future__ import annotations

import contextlib
import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# The copy a wheel ships: fixtures/site less the tests' expected answers, put there at build time (setup.py).
SHIPPED_SITE = _PACKAGE / "demo_site"
# The copy in a checkout (an editable install): the repository's fixtures.
CHECKOUT_SITE = _PACKAGE.parent / "fixtures" / "site"


def demo_site() -> Path:
    """The site copy `cascrawl demo` serves: the wheel's, else the checkout's; FileNotFoundError for neither."""
    for root in (SHIPPED_SITE, CHECKOUT_SITE):
        if root.is_dir():
            return root
    raise FileNotFoundError(f"no site copy at {SHIPPED_SITE} (a wheel's) or {CHECKOUT_SITE} (a checkout's): "
                            "reinstall cascrawl from a wheel or run from a checkout of cascrawl")


class SiteHandler(SimpleHTTPRequestHandler):
    """Answers GETs from a site copy the way the TRS server does; `routes` lets a test answer some paths itself."""

    # TRS pages are .shtml; without this they would be served as application/octet-stream.
    # No charset on purpose: pages declare their own, as the real site's headers may not.
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".shtml": "text/html", ".html": "text/html"}

    def __init__(self, *args, routes=None, **kwargs):
        self.routes = routes or {}  # set before the base class handles the request in its __init__
        super().__init__(*args, **kwargs)

    def do_GET(self):
        route = self.routes.get(self.path.split("?")[0])
        if route is not None:
            route(self)  # a test's own answer for this path (a redirect, a slow or hostile page)
            return
        super().do_GET()

    def translate_path(self, path: str) -> str:
        translated = super().translate_path(path)
        index = os.path.join(translated, "index.shtml")
        if os.path.isdir(translated) and os.path.isfile(index):
            return index  # TRS sections answer `/<section>/` with index.shtml
        return translated

    def list_directory(self, path):  # a real site has no directory listings
        self.send_error(404, "Not Found")
        return None

    def log_message(self, format, *args):  # keep crawl output readable
        pass


def site_sections(root: Path) -> list[str]:
    """Sections present in a site copy: folders holding an index.shtml (two-level ones included)."""
    return sorted(index.parent.relative_to(root).as_posix() for index in root.rglob("index.shtml") if index.parent != root)


@contextlib.contextmanager
def serve_site(root: Path, host: str = "127.0.0.1", routes: dict | None = None):
    """Serve `root` on a free port; yields the base URL, e.g. `http://127.0.0.1:41234`.

    `routes` maps a path (`/yw/…shtml`, without query) to a function that answers a GET of it
    itself, given the request handler (`http.server.BaseHTTPRequestHandler`)."""
    if not (root / "yw").is_dir() and not any(root.glob("*/index.shtml")):
        raise FileNotFoundError(f"no site copy at {root}")
    server = ThreadingHTTPServer((host, 0), partial(SiteHandler, directory=str(root), routes=routes))
    thread = threading.Thread(target=server.serve_forever, name="fixture-site", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
