"""Structural pruning inside an article container: what is not the article, told by its structure alone.

- a block whose text is mostly inside links (a list of related links, a pager, "more" and share widgets,
  a tag cloud): the article's text is not link text;
- what a browser does not show (`display:none`, a zero-size box);
- the items of a list of like siblings (same tag and class) shaped like teasers or comments (they open
  with their link, or much of their text is link text): records, not paragraphs;
- after the article's last paragraph, the short lines that close a page (labelled `来源：`/`责任编辑：`,
  buttons, an empty pager).

Class names are never read: what works here must work on sites nobody has seen.
"""

from __future__ import annotations

import re

from lxml import etree

from cascrawl.parsers.density import BLOCKS, Stats, cited_address, hidden, repeated_records

LINK_DENSE = 0.6  # share of a block's characters inside links


def prune(container: etree._Element, stats: dict[etree._Element, Stats]) -> list[etree._Element]:
    """Take out of `container` the blocks that are not the article, and the lines after its last paragraph
    (`trailing_lines`); returns them. They are set aside right after the container, still in the page: the
    body no longer holds them, but the rules that read the whole page (an editor line, a date printed below
    the body) still find them."""
    removed = [element for element in container.iter() if element is not container and hidden(element)]
    _prune(container, stats, removed, set(removed))
    anchor = container
    for element in removed:
        anchor = _set_aside(element, anchor)
    for element in trailing_lines(container, stats):
        removed.append(element)
        anchor = _set_aside(element, anchor)
    return removed


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
        if (child.tag in _STRUCTURED or s.chars > TRAILING_MAX or has_media(child) or holds_sentence(child)
                or _cites(child)):
            break
        if s.chars and not (s.links or _LABEL.search("".join(child.itertext()))):
            break
        previous = stats.get(children[index - 1])
        if has_media(children[index - 1]) and (previous is None or not previous.chars):
            break  # the caption of the picture above it (a block that shows a picture and no text)
        trailing.append(child)
    return trailing


# A label and its colon: 来源：, 责任编辑:, 发布日期： (a short word before a colon).
_LABEL = re.compile(r"(?:^|\s)[^\s:：]{1,6}[:：]")
_STRUCTURED = frozenset(("table", "ul", "ol", "dl", "pre"))  # data and lists: written content, however short
TRAILING_MAX = 80  # characters: a line after the article, not a paragraph of it
_SENTENCE_ENDS = frozenset("。！？!?；")


def _cites(element: etree._Element) -> bool:
    return any(cited_address(anchor) for anchor in element.iter("a"))


def holds_sentence(element: etree._Element) -> bool:
    """Some of its text ends a sentence (。！？；): prose, not a label, a byline or a button."""
    return _ends_sentence("".join(element.itertext()))


def _ends_sentence(text: str) -> bool:
    return any(ch in _SENTENCE_ENDS for ch in text)


def has_media(element: etree._Element) -> bool:
    """Holds a picture, a video or a player (an icon, a few pixels wide, is not a picture)."""
    return any(not icon(found) for found in element.iter("img", "video", "iframe", "embed", "object"))


def icon(element: etree._Element) -> bool:
    """A picture written a few pixels wide or high (a share button, a bullet)."""
    sizes = [element.get("width"), element.get("height")]
    return any(size and size.strip().rstrip("px").isdigit() and int(size.strip().rstrip("px")) <= ICON_MAX
               for size in sizes)


ICON_MAX = 32  # pixels


def _prune(element: etree._Element, stats: dict, removed: list, seen: set) -> None:
    records = set(repeated_records(element, stats))
    for child in element:
        s = stats.get(child)
        if s is None or not isinstance(child.tag, str) or child in seen:
            continue
        if child in records or link_dense(child, s):
            removed.append(child)
            seen.add(child)
        else:
            _prune(child, stats, removed, seen)


def link_dense(element: etree._Element, s: Stats) -> bool:
    """A block made of links: most of its characters are link text (an image inside a link is not text) —
    several links, or one link and no sentence of its own (`详见<a>《通知》</a>。` is a sentence)."""
    if element.tag not in BLOCKS or not s.chars or s.link_density < LINK_DENSE:
        return False
    return s.links > 1 or not _ends_sentence(_text_outside_links(element))


def _text_outside_links(element: etree._Element) -> str:
    parts = [element.text or ""] if element.tag != "a" else []
    for child in element:
        if isinstance(child.tag, str) and child.tag != "a":
            parts.append(_text_outside_links(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _set_aside(element: etree._Element, anchor: etree._Element) -> etree._Element:
    """Move the element to just after `anchor`, leaving the text that follows it (its tail: its parent's text)
    where it was; returns the element (the next anchor)."""
    if element.getparent() is None or element is anchor:
        return anchor
    _leave_tail(element)
    anchor.addnext(element)
    return element


def drop_keeping_tail(element: etree._Element) -> None:
    """Remove the element from its tree, keeping the text that follows it (its tail: its parent's text)."""
    parent = element.getparent()
    if parent is not None:
        _leave_tail(element)
        parent.remove(element)




def _leave_tail(element: etree._Element) -> None:
    if element.tail:
        previous, parent = element.getprevious(), element.getparent()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
        element.tail = None
