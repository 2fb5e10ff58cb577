"""The last resort: a page no CAS layout recognises. Fields still come from head meta and labels;
the body comes from trafilatura, a well-kept main-text extractor, with the site's known chrome
(navigation mega-menu, footer, share and font-size widgets) pruned first."""

from __future__ import annotations

import lxml.html
from lxml import etree

from cascrawl.parsers.article import ArticleParser
from cascrawl.parsers.base import Page

# Chrome around the body on every CAS page; pruned so trafilatura never mistakes it for text.
_PRUNE = [
    "//header", "//footer", "//nav", "//script", "//style",
    "//*[contains(@class, 'nav') or contains(@class, 'menu') or contains(@class, 'footer') or contains(@class, 'foot')]",
    "//*[contains(@class, 'breadcrumb') or contains(@class, 'dqwz') or contains(@class, 'position')]",
    "//*[contains(@id, 'nav') or contains(@id, 'menu') or contains(@id, 'footer')]",
    # the headline and the info line (来源/时间) are fields, not body text
    "//h1", "//*[contains(@class, 'info') or contains(@class, 'title')]",
]


class GenericArticle(ArticleParser):
    name, version = "generic.trafilatura", "1"

    def matches(self, page: Page) -> bool:
        return True

    def body_element(self, page: Page) -> etree._Element | None:
        if "generic_body" not in page.cache:  # trafilatura is slow: run it once per page
            page.cache["generic_body"] = _main_text(page)
        return page.cache["generic_body"]

    def body_path(self, page: Page, body: etree._Element) -> str:
        return "generic:trafilatura"


def _main_text(page: Page) -> etree._Element | None:
    import trafilatura  # imported only when needed: most pages never get here

    html = lxml.html.tostring(page.root, encoding="unicode")
    extracted = trafilatura.extract(
        html, url=page.url, output_format="html", include_tables=True, include_images=True,
        include_comments=False, favor_precision=True, prune_xpath=_PRUNE,
    )
    if not extracted:
        return None
    tree = lxml.html.fromstring(extracted)
    body = tree.find(".//body")
    return body if body is not None else tree

