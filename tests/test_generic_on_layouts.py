"""The generic path as a layout nobody described: on every gold article page a CAS layout parses, the generic
parser (run alone, as after a redesign) finds the same body text as the layout does. The layouts were written
from known selectors; the generic path finds the container by structure only, so this is its check on pages
it was not tuned on the way the real-page corpus is."""

from __future__ import annotations

from pathlib import Path

import pytest

from cascrawl.encoding import decode_html
from cascrawl.parsers import GENERIC, parse_article
from cascrawl.parsers.base import Page
from cascrawl.text import html_to_text

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "site"
URL = "https://www.cas.cn/yw/202001/t20200101_1.shtml"
ARTICLES = sorted(FIXTURES.rglob("t*.shtml"))


def _layout_pages():
    for path in ARTICLES:
        html, _ = decode_html(path.read_bytes(), None)
        data = parse_article(html, URL)
        if not data.parser.startswith("generic"):
            yield pytest.param(html, data, id=str(path.relative_to(FIXTURES)))


@pytest.mark.parametrize(("html", "layout"), list(_layout_pages()))
def test_the_generic_path_finds_the_body_the_layout_knows(html, layout):
    generic = GENERIC.parse(Page(html, URL))
    assert html_to_text(generic.body_html or "") == html_to_text(layout.body_html or "")
    assert generic.provenance["body"].startswith("generic:")


def test_there_are_layout_pages_to_compare():
    assert len(list(_layout_pages())) >= 20
