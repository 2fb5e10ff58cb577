"""Structural pruning inside an article container: what is not the article, told by its structure alone.

- a block whose text is mostly inside links (a list of related links, a pager, "more" and share widgets,
  a tag cloud): the article's text is not link text;
- what a browser does not show (`display:none`, a zero-size box);
- the items of a list of like siblings (same tag and class) that each hold a link (teasers of related
  news, comments with their author links): records, not paragraphs.

Class names are never read: what works here must work on sites nobody has seen.
"""

from __future__ import annotations

import re

from lxml import etree

from cascrawl.parsers.density import BLOCKS, Stats, cited_address, hidden, repeated_records

LINK_DENSE = 0.6  # share of a block's characters inside links


def prune(container: etree._Element, stats: dict[etree._Element, Stats]) -> list[etree._Element]:
    """Remove from the page's tree the blocks inside `container` that are not the article, and the lines
    after its last sentence (`trailing_lines`); returns what was removed."""
    removed: list[etree._Element] = [element for element in container.iter() if element is not container and hidden(element)]
    _prune(container, stats, removed)
    for element in removed:
        _drop(element)
    trailing = trailing_lines(container, stats)
    for element in trailing:
        _drop(element)
    return removed + trailing


def trailing_lines(container: etree._Element, stats: dict[etree._Element, Stats]) -> list[etree._Element]:
    """The lines at the end of the container, after its last paragraph, that close a page rather than the
    article: short, no sentence, no picture, and either labelled (`来源：…`, `责任编辑：…`, `发布日期：…`),
    holding links (buttons, a pager) or empty. What is not one of them ends the search: a signature and a
    date under a notice stay, and so do a picture's caption, a cited address, a table or a list."""
    children = [child for child in container if isinstance(child.tag, str)]
    trailing = []
    for index in range(len(children) - 1, 0, -1):
        child = children[index]
        s = stats.get(child)
        if s is None:
            continue  # not shown, or a script: nothing to read either way
        if child.tag in _STRUCTURED or s.chars > TRAILING_MAX or _media(child) or _sentence(child) or _cites(child):
            break
        if s.chars and not (s.links or _LABEL.search("".join(child.itertext()))):
            break
        previous = stats.get(children[index - 1])
        if _media(children[index - 1]) and (previous is None or previous.chars <= TRAILING_MAX):
            break  # the caption of the picture above it
        trailing.append(child)
    return trailing


# A label and its colon: 来源：, 责任编辑:, 发布日期： (a short word before a colon).
_LABEL = re.compile(r"(?:^|\s)[^\s:：]{1,6}[:：]")
_STRUCTURED = frozenset(("table", "ul", "ol", "dl", "pre"))  # data and lists: written content, however short
TRAILING_MAX = 80  # characters: a line after the article, not a paragraph of it
_SENTENCE_ENDS = frozenset("。！？!?")


def _cites(element: etree._Element) -> bool:
    return any(cited_address(anchor) for anchor in element.iter("a"))


def _sentence(element: etree._Element) -> bool:
    return any(ch in _SENTENCE_ENDS for ch in "".join(element.itertext()))


def _media(element: etree._Element) -> bool:
    """Holds a picture or a video (an icon, a few pixels wide, is not a picture)."""
    return any(not _icon(found) for found in element.iter("img", "video"))


def _icon(element: etree._Element) -> bool:
    sizes = [element.get("width"), element.get("height")]
    return any(size and size.strip().rstrip("px").isdigit() and int(size.strip().rstrip("px")) <= ICON_MAX
               for size in sizes)


ICON_MAX = 32  # pixels


def _prune(element: etree._Element, stats: dict, removed: list) -> None:
    records = set(repeated_records(element, stats))
    for child in element:
        s = stats.get(child)
        if s is None or not isinstance(child.tag, str) or child in removed:
            continue
        if child in records or link_dense(child, s):
            removed.append(child)
        else:
            _prune(child, stats, removed)


def link_dense(element: etree._Element, s: Stats) -> bool:
    """A block made of links: most of its characters are link text (an image inside a link is not text)."""
    return element.tag in BLOCKS and s.chars > 0 and s.link_density >= LINK_DENSE


def _drop(element: etree._Element) -> None:
    """Remove the element, keeping the text that follows it (its tail belongs to the parent)."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)
