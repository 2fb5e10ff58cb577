"""The repository's fixture copy of the site (`fixtures/site/`) for the tests and the benchmark scripts: served on
127.0.0.1 (`cascrawl.site_server`), grown by new articles, or generated large. Not installed with cascrawl."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from cascrawl import site_server
from cascrawl.urls import CANONICAL_BASE

# The repository's fixture copy of www.cas.cn.
BUNDLED_SITE = Path(__file__).resolve().parents[2] / "fixtures" / "site"


def serve_site(root: Path = BUNDLED_SITE, host: str = "127.0.0.1", routes: dict | None = None):
    """`cascrawl.site_server.serve_site`, of the repository's fixture copy unless told otherwise."""
    return site_server.serve_site(root, host, routes)


def site_sections(root: Path = BUNDLED_SITE) -> list[str]:
    return site_server.site_sections(root)


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
        urls.append(f"{CANONICAL_BASE}/{section}/{month}/{name}")
    listing.write_text(html, "utf-8")
    return urls


# The article every generated page is made from: a current-layout (2025) page of the fixture copy.
_GENERATED_TEMPLATE = BUNDLED_SITE / "syky" / "202511" / "t20251117_5089008.shtml"
_TEMPLATE_TITLE = "嫦娥六号月背样品中首次发现晶质赤铁矿和磁赤铁矿"


def build_large_section(root: Path, section: str = "syky", count: int = 300, per_page: int = 20,
                        first_docid: int = 6000000, first_day: date = date(2024, 1, 1)) -> list[str]:
    """Write a copy of one section with `count` articles, `per_page` to a listing page, newest first,
    with the TRS pager script on each page; returns the canonical URLs, newest first. Article k
    (1 = the oldest) is published on first_day + k - 1 days with docid first_docid + k, so building
    again with a larger count publishes new articles on top of the same old ones. For tests of long
    walks (interruption, resumption, outages) and the crawl benchmark (which sets first_day early
    enough for every date to be in the past)."""
    template = _GENERATED_TEMPLATE.read_text("utf-8")
    listing_template = (BUNDLED_SITE / "cm" / "index.shtml").read_text("utf-8")
    head, rest = listing_template.split('<div id="content">', 1)
    tail = rest.split("</div>", 1)[1]
    pages = (count + per_page - 1) // per_page
    urls, entries = [], []
    for k in range(count, 0, -1):
        day = first_day + timedelta(days=k - 1)
        docid = first_docid + k
        month, stamp = day.strftime("%Y%m"), day.strftime("%Y%m%d")
        title = f"第{k}号研究进展：{_TEMPLATE_TITLE}"
        name = f"t{stamp}_{docid}.shtml"
        page = (template.replace(_TEMPLATE_TITLE, title)
                .replace("2025-11-17 10:05", f"{day.isoformat()} 10:05")
                .replace("近日，", f"近日（第{k}号），", 1))
        folder = root / section / month
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(page, "utf-8")
        urls.append(f"{CANONICAL_BASE}/{section}/{month}/{name}")
        entries.append(f'<li><span>{day.isoformat()}</span><a href="./{month}/{name}" title="{title}" '
                       f'target="_blank">{title}</a></li>')
    for number in range(pages):
        chunk = "\n".join(entries[number * per_page:(number + 1) * per_page])
        pager = re.sub(r"var countPage = \d+;", f"var countPage = {pages};", tail)
        pager = re.sub(r"var currentPage = \d+;", f"var currentPage = {number};", pager)
        html = f'{head}<div id="content">\n{chunk}\n</div>{pager}'
        name = "index.shtml" if number == 0 else f"index_{number}.shtml"
        (root / section / name).write_text(html, "utf-8")
    return urls
