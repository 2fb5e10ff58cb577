"""Serve a saved copy of the site (the bundled `fixtures/site/`) on 127.0.0.1, for the demo and the tests."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# The repository's fixture copy of www.cas.cn (present in a checkout / editable install).
BUNDLED_SITE = Path(__file__).resolve().parent.parent / "fixtures" / "site"


class _SiteHandler(SimpleHTTPRequestHandler):
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


def site_sections(root: Path = BUNDLED_SITE) -> list[str]:
    """Sections present in a site copy: folders holding an index.shtml (two-level ones included)."""
    return sorted(index.parent.relative_to(root).as_posix() for index in root.rglob("index.shtml") if index.parent != root)


@contextlib.contextmanager
def serve_site(root: Path = BUNDLED_SITE, host: str = "127.0.0.1", routes: dict | None = None):
    """Serve `root` on a free port; yields the base URL, e.g. `http://127.0.0.1:41234`.

    `routes` maps a path (`/yw/…shtml`, without query) to a function that answers a GET of it
    itself, given the request handler (`http.server.BaseHTTPRequestHandler`)."""
    if not (root / "yw").is_dir() and not any(root.glob("*/index.shtml")):
        raise FileNotFoundError(f"no site copy at {root} (run from a checkout of cascrawl)")
    server = ThreadingHTTPServer((host, 0), partial(_SiteHandler, directory=str(root), routes=routes))
    thread = threading.Thread(target=server.serve_forever, name="fixture-site", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def add_new_articles(site: Path, section: str, count: int) -> list[str]:
    """Publish `count` new articles at the top of a section's first listing page of a site copy (copies of
    its newest article, each with a changed first paragraph); returns their canonical URLs. For tests
    and the request benchmark: what a new day on the site looks like."""
    listing = site / section / "index.shtml"
    html = listing.read_text("utf-8")
    first = re.search(r'href="\./(\d{6})/t(\d{8})_(\d+)\.shtml"', html)
    month, day, docid = first.groups()
    template = (site / section / month / f"t{day}_{docid}.shtml").read_text("utf-8")
    urls = []
    for n in range(1, count + 1):
        new_id = int(docid) + 1000 + n
        name = f"t{day}_{new_id}.shtml"
        body = re.search(r"trs_editor_view|TRS_Editor", template).start()
        page = template[:body] + template[body:].replace("</p>", f"（新稿{n}）</p>", 1)
        (site / section / month / name).write_text(page, "utf-8")
        entry = f'<li><span>{day[:4]}-{day[4:6]}-{day[6:]}</span><a href="./{month}/{name}" title="新稿{n}">新稿{n}</a></li>'
        html = html.replace('<div id="content">', '<div id="content">' + entry, 1)
        urls.append(f"https://www.cas.cn/{section}/{month}/{name}")
    listing.write_text(html, "utf-8")
    return urls
