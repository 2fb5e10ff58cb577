"""Structural pruning inside an article container: what is not the article, told by its structure alone.

- a block whose text is mostly inside links (a list of related links, a pager, "more" and share widgets,
  a tag cloud): the article's text is not link text;
- the items of a list of like siblings (same tag and class) that each hold a link (teasers of related
  news, comments with their author links): records, not paragraphs.

Class names are never read: what works here must work on sites nobody has seen.
"""

from __future__ import annotations

from lxml import etree

from cascrawl.parsers.density import BLOCKS, Stats, repeated_records

LINK_DENSE = 0.6  # share of a block's characters inside links


def prune(container: etree._Element, stats: dict[etree._Element, Stats]) -> list[etree._Element]:
    """Remove from the page's tree the blocks inside `container` that are not the article; returns them."""
    removed: list[etree._Element] = []
    _prune(container, stats, removed)
    for element in removed:
        _drop(element)
    return removed


def _prune(element: etree._Element, stats: dict, removed: list) -> None:
    records = set(repeated_records(element, stats))
    for child in element:
        s = stats.get(child)
        if s is None or not isinstance(child.tag, str):
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
