"""The last resort: a page no CAS layout recognises, parsed as a layout whose containers are found at run time.

The body container is an element of the page's own tree, chosen by text and punctuation density
(`density.py`): the smallest element that holds the article's prose, near the headline. Inside it, blocks that
are lists of links, repeated teasers or comments, share/QR widgets and pagers are removed by their structure
(`pruning.py`) — never by one site's class names. Since the container is part of the page, the text between the
headline and the body is the header region the field rules read (title, date, source), exactly as on a layout.
"""

from __future__ import annotations

import unicodedata

from lxml import etree

from cascrawl.parsers import density, pruning
from cascrawl.parsers.article import ArticleParser
from cascrawl.parsers.base import Page

_HEADINGS = ("h1", "h2", "h3")
_HEADLINE_MIN = 4
_SENTENCE_ENDS = "。！？!?；"
_PARAGRAPHS = etree.XPath(".//p | .//div | .//br | .//section")  # characters: shorter headings (a column name) say nothing


class GenericArticle(ArticleParser):
    name, version = "generic.density", "2"

    def matches(self, page: Page) -> bool:
        return True

    def body_element(self, page: Page) -> etree._Element | None:
        if "generic_body" not in page.cache:  # chosen (and pruned) once per page
            found = self.headline(page)  # the title rule's own headline: one heading for the body and the fields
            headline = found[2] if found is not None and found[2] is not None else headline_element(page)
            page.cache["generic_body"] = article_container(page, headline)
        return page.cache["generic_body"]

    def body_path(self, page: Page, body: etree._Element) -> str:
        return "generic:" + css_path(body)


def article_container(page: Page, headline: etree._Element | None = None) -> etree._Element | None:
    """The page's element that holds the article (the one next to `headline`, when given), with the blocks
    inside it that are not the article (lists of links, repeated teasers and comments, widgets) removed from
    the page's tree, so every field and the media read the same article."""
    stats = density.measure(page.root)
    headline = headline if headline is not None else headline_element(page)
    container = density.best_container(stats, headline)
    if container is None:
        return None
    if headline is not None and _holds(container, headline):
        container = _after_header(container, headline, stats)
    pruning.prune(container, stats)
    _untable_layout_cells(container)
    return container


def _untable_layout_cells(body: etree._Element) -> None:
    """A table cell that holds paragraphs is page layout (old pages set the article in a table), not a data
    cell: it becomes a `div`, so its paragraphs stay paragraphs in the text (a data cell's content is kept on
    its row's line). Renamed in the page's tree, inside the body only."""
    for cell in list(body.iter("td", "th")):
        if len(_PARAGRAPHS(cell)) >= 2:
            cell.tag = "div"


def _holds(ancestor: etree._Element, element: etree._Element) -> bool:
    return any(node is ancestor for node in element.iterancestors()) or element is ancestor


def _after_header(container: etree._Element, headline: etree._Element, stats: dict) -> etree._Element:
    """A container that holds the headline holds the header too (headline, info line with date and source):
    the body is what follows them. Its elements are gathered into a new `div` in the page's tree, in the same
    place, so that the text before the body is the header region, as on a layout."""
    level = container
    while True:
        holder = next(child for child in level if _holds(child, headline))
        following = list(holder.itersiblings())
        prose = sum(stats[c].prose for c in following if c in stats)
        if prose * 2 >= stats[container].prose or stats.get(holder) is None or holder is headline:
            break
        level = holder  # the article's paragraphs are deeper, next to the headline
    while following and not _holds_sentences(following[0], stats):
        following.pop(0)  # the info line (date, source, author) and other header lines
    if not following:
        return container
    if len(following) == 1:
        return following[0]
    body = etree.Element("div")
    following[0].addprevious(body)
    for child in following:
        body.append(child)  # moves it, its tail with it
    stats[body] = stats[container]
    return body


def _holds_sentences(element: etree._Element, stats: dict) -> bool:
    s = stats.get(element)
    return s is not None and s.prose > 0 and any(mark in "".join(element.itertext()) for mark in _SENTENCE_ENDS)


def headline_element(page: Page) -> etree._Element | None:
    """The first `h1`–`h3` whose text is part of the page's `<title>`, `og:title` or ArticleTitle (a headline
    agrees with the title the page gives itself; a column or site heading rarely does)."""
    titles = [_squeezed(page.text_of(page.first("head title"), spaced=False))]
    titles += [_squeezed(page.meta.get(name)) for name in ("articletitle", "og:title", "twitter:title")]
    for property_meta in page.root.iter("meta"):
        if (property_meta.get("property") or "").lower() == "og:title":
            titles.append(_squeezed(property_meta.get("content")))
    titles = [t for t in titles if t]
    if not titles:  # nothing to agree with: a page's only h1 is its headline
        found = page.all("body h1")
        return found[0] if len(found) == 1 else None
    for heading in page.root.iter(*_HEADINGS):
        text = _squeezed(page.text_of(heading, spaced=False))
        if len(text) >= _HEADLINE_MIN and any(text in title for title in titles):
            return heading
    return None


def css_path(element: etree._Element, levels: int = 3) -> str:
    """`div#main>div.article-content`: tag, id and first class of the element and a few of its ancestors,
    stable across the pages of one template (the drift report groups pages by it)."""
    parts = []
    node = element
    while node is not None and len(parts) < levels and node.tag not in ("html", "body"):
        part = node.tag
        if node.get("id"):
            part += "#" + node.get("id").strip()
        classes = (node.get("class") or "").split()
        if classes:
            part += "." + classes[0]
        parts.append(part)
        node = node.getparent()
    return ">".join(reversed(parts)) or element.tag


def _squeezed(text: str | None) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split())
