"""The last resort: a page no CAS layout recognises, parsed as a layout whose containers are found at run time.

The body container is an element of the page's own tree, chosen by text and punctuation density
(`density.py`): the smallest element that holds the article's prose, near the headline. Inside it, blocks that
are lists of links, repeated teasers or comments, share/QR widgets and pagers are removed by their structure
(`pruning.py`) — never by one site's class names. Since the container is part of the page, the text between the
headline and the body is the header region the field rules read (title, date, source), exactly as on a layout.
The headline is the title rule's own (`ArticleParser.headline`): one heading for the body and the fields.
"""

from __future__ import annotations

import unicodedata

from lxml import etree

from cascrawl.parsers import density, pruning
from cascrawl.parsers.article import ArticleParser
from cascrawl.parsers.body_parts import is_inside
from cascrawl.parsers.base import Page

_HEADINGS = ("h1", "h2", "h3")
_HEADLINE_MIN = 4  # characters: shorter headings (a column name) say nothing
_PARAGRAPHS = etree.XPath(".//p | .//div | .//br | .//section")


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
    """The page's element that holds the article (the one next to `headline`, when given): after the header
    when it holds the headline, from the picture or player when one sits between header and text. The blocks
    inside it that are not the article (lists of links, teasers and comments, hidden widgets, closing lines)
    are set aside after it in the page's tree, so every field and the media read the same article."""
    stats = density.measure(page.root)
    headline = headline if headline is not None else headline_element(page)
    container = density.best_container(stats, headline)
    if container is None:
        return None
    if headline is not None:
        if _holds(container, headline):
            container = _after_header(container, headline, stats)
        else:
            container = _with_media_above(container, headline, stats)
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
    return element is ancestor or is_inside(element, ancestor)


def _after_header(container: etree._Element, headline: etree._Element, stats: dict) -> etree._Element:
    """A container that holds the headline holds the header too (headline, info line with date and source):
    the body is what follows them."""
    if container is headline:
        return container
    body = _gathered(_blocks_after_header(container, headline, stats), stats)
    return container if body is None else body


def _with_media_above(container: etree._Element, headline: etree._Element, stats: dict) -> etree._Element:
    """A picture or video story: the player or the picture sits between the header and the text the density
    chose. The body then starts at the picture — when that adds no more than a caption's worth of text."""
    ancestor = next((node for node in container.iterancestors() if _holds(node, headline)), None)
    if ancestor is None or not _media_between(ancestor, headline, container, stats):
        return container
    blocks = _blocks_after_header(ancestor, headline, stats)
    if not any(_holds(block, container) for block in blocks):
        return container
    added = sum(stats[block].chars for block in blocks if block in stats) - stats[container].chars
    if added > CAPTION_CHARS:
        return container
    body = _gathered(blocks, stats)
    return container if body is None else body


CAPTION_CHARS = 100


def _blocks_after_header(container: etree._Element, headline: etree._Element, stats: dict) -> list:
    """The elements of `container` after its header lines, at the level where the article's text is."""
    level = container
    while True:
        holder = next(child for child in level if _holds(child, headline))
        following = [child for child in holder.itersiblings() if isinstance(child.tag, str)]
        prose = sum(stats[c].prose for c in following if c in stats)
        if prose * 2 >= stats[container].prose or stats.get(holder) is None or holder is headline:
            break
        level = holder  # the article's paragraphs are deeper, next to the headline
    while following and not (_prose_paragraph(following[0], stats) or _picture_block(following[0])):
        following.pop(0)  # the info line (date, source, author) and other header lines
    return following


def _gathered(blocks: list, stats: dict) -> etree._Element | None:
    """One element for the body's blocks: the block itself when there is one, else a new `div` put in their
    place in the page's tree, holding them, so that the text before it is the header region, as on a layout."""
    if not blocks:
        return None
    if len(blocks) == 1:
        return blocks[0]
    body = etree.Element("div")
    blocks[0].addprevious(body)
    for block in blocks:
        body.append(block)  # moves it, its tail with it
    stats[body] = density.Stats(chars=sum(stats[b].chars for b in blocks if b in stats),
                                prose=sum(stats[b].prose for b in blocks if b in stats))
    return body


_MEDIA = ("img", "video", "iframe", "embed", "object")


def _media_between(ancestor: etree._Element, headline: etree._Element, container: etree._Element,
                   stats: dict) -> bool:
    """Whether a picture or a player is shown after the headline and before the container, in document order
    (not an icon, not an inline `data:` image, not inside a hidden element)."""
    after_headline = False
    for element in ancestor.iter():
        if element is container:
            return False
        if element is headline:
            after_headline = True
        elif (after_headline and element.tag in _MEDIA and not pruning.icon(element)
              and not (element.get("src") or "").startswith("data:")
              and (element in stats or element.getparent() in stats) and not _holds(headline, element)):
            return True
    return False


def _picture_block(element: etree._Element) -> bool:
    """A block that shows a picture or a player, not a bar of linked icons (share buttons)."""
    return pruning.has_media(element) and len(element.xpath(".//a")) < 2


def _prose_paragraph(element: etree._Element, stats: dict) -> bool:
    return element in stats and stats[element].prose > 0 and pruning.holds_sentence(element)


def headline_element(page: Page) -> etree._Element | None:
    """The first `h1`–`h3` whose text is part of the page's `<title>`, `og:title` or ArticleTitle (a headline
    agrees with the title the page gives itself; a column or site heading rarely does)."""
    titles = [_squeezed(page.text_of(page.first("head title"), spaced=False))]
    titles += [_squeezed(page.meta.get(name)) for name in ("articletitle", "og:title", "twitter:title")]
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
