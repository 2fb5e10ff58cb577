"""Text and punctuation density of a page's elements: which container holds the article.

The idea (Chinese news pages, the method GNE and CETD describe): the article is where text is dense — many
characters per element — and written as prose — punctuation, few links — while navigation, lists of related
links, footers and widgets are made of many small elements, most of their text inside links, with little
punctuation. Counted by characters (Chinese has no spaces to split words on), white space excluded.

Everything here is pure: an lxml element in, numbers out; the page's tree is never changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lxml import etree

# Never visible text, never part of an article's text.
SKIPPED = frozenset("script style noscript template iframe object embed select textarea button head title".split())
# Sentence punctuation, full- and half-width: prose has it, navigation rarely does.
PUNCTUATION = frozenset("，。！？；：、,.!?;:“”‘’「」『』（）()《》…—")
# Elements that hold a paragraph or a line of text (the units of an article).
PROSE_RUN = 20
HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
REPEATED = 3  # like siblings that make a list
RECORD_TAGS = 4
BLOCKS = frozenset("p div section article li td dd dt blockquote pre h1 h2 h3 h4 h5 h6 figure figcaption center table ul ol dl".split())


@dataclass(slots=True)
class Stats:
    """What an element's subtree holds: characters (white space excluded), those inside links, punctuation
    outside links, elements, links, and text blocks (paragraphs: elements with text of their own)."""

    chars: int = 0
    link_chars: int = 0
    punctuation: int = 0
    tags: int = 1
    links: int = 0
    paragraphs: int = 0
    start: int = 0  # visible characters before the element, in document order
    prose: int = 0  # characters outside links in text written as sentences (punctuation) or long runs
    record: bool = False  # an item of a list of like siblings that each hold a link

    @property
    def text_chars(self) -> int:
        return self.chars - self.link_chars

    @property
    def link_density(self) -> float:
        return self.link_chars / self.chars if self.chars else 0.0


def hidden(element: etree._Element) -> bool:
    """Written `display:none` (or the `hidden` attribute): a browser shows none of it."""
    style = element.get("style")
    if style and "none" in style:
        squeezed = "".join(style.split()).lower()
        if "display:none" in squeezed:
            return True
    return element.get("hidden") is not None


def squeezed_len(text: str | None) -> int:
    return len("".join(text.split())) if text else 0


def _punctuation(text: str | None) -> int:
    return sum(ch in PUNCTUATION for ch in text) if text else 0


def _prose(text: str | None) -> int:
    n = squeezed_len(text)
    return n if n and (n >= PROSE_RUN or _punctuation(text)) else 0


def measure(root: etree._Element) -> dict[etree._Element, Stats]:
    """Stats of every element under `root` (itself included), computed in one bottom-up pass."""
    stats: dict[etree._Element, Stats] = {}
    _measure(root, stats, in_link=False, offset=[0])
    return stats


def _measure(element: etree._Element, stats: dict, in_link: bool, offset: list[int]) -> Stats | None:
    if not isinstance(element.tag, str) or element.tag in SKIPPED or hidden(element):
        return None
    in_link = in_link or element.tag == "a"
    own = Stats(links=1 if element.tag == "a" else 0, start=offset[0])
    own_text = squeezed_len(element.text)
    offset[0] += own_text
    own_punct = _punctuation(element.text)
    own_prose = _prose(element.text)
    children = [child for child in element if isinstance(child.tag, str)]
    repeated = _signatures_repeated(children)
    for child in element:
        child_stats = _measure(child, stats, in_link, offset)
        if child_stats is not None:
            if repeated and _signature(child) in repeated and _record_like(child_stats):
                child_stats = _as_chrome(child_stats)
                stats[child].record = True
            own.chars += child_stats.chars
            own.link_chars += child_stats.link_chars
            own.punctuation += child_stats.punctuation
            own.tags += child_stats.tags
            own.links += child_stats.links
            own.paragraphs += child_stats.paragraphs
            own.prose += child_stats.prose
        if child.tail:  # a child's tail is its parent's text
            tail = squeezed_len(child.tail)
            own_text += tail
            offset[0] += tail
            own_punct += _punctuation(child.tail)
            own_prose += _prose(child.tail)
    own.chars += own_text
    if element.tag in HEADINGS:
        own.prose = own_prose = 0  # a heading is not prose: a container is not chosen for its headline
    if in_link:
        own.link_chars += own_text
    else:
        own.punctuation += own_punct
        own.prose += own_prose
    if own_text and element.tag in BLOCKS or (own_text >= 10 and element.tag in ("span", "font", "strong", "br")):
        own.paragraphs += 1
    stats[element] = own
    return own


def _signature(element: etree._Element) -> tuple[str, str]:
    return element.tag, " ".join((element.get("class") or "").split())


def _signatures_repeated(children: list[etree._Element]) -> set[tuple[str, str]]:
    """Signatures (tag, class) shared by at least REPEATED siblings: a list of like items."""
    if len(children) < REPEATED:
        return set()
    counts: dict[tuple[str, str], int] = {}
    for child in children:
        if child.tag not in ("tr", "td", "th", "p", "br", "img"):
            key = _signature(child)
            counts[key] = counts.get(key, 0) + 1
    return {key for key, n in counts.items() if n >= REPEATED}


def _record_like(s: Stats) -> bool:
    """An item of a list of records (related news, comments, teasers): it holds a link, or a structure
    of several elements (avatar, name, time, text), rather than a paragraph of text."""
    return s.links > 0


def _as_chrome(s: Stats) -> Stats:
    """A record's text counts as chrome where its parent adds it up: a list of teasers or comments is
    not the article, however much prose each item holds."""
    return Stats(chars=s.chars, link_chars=s.link_chars, punctuation=0, tags=s.tags, links=s.links,
                 paragraphs=0, start=s.start, prose=0)


def repeated_records(element: etree._Element, stats: dict[etree._Element, Stats]) -> list[etree._Element]:
    """The children of `element` that are items of a list of records (see `measure`)."""
    return [child for child in element if child in stats and stats[child].record]


def text_density(s: Stats) -> float:
    """Characters outside links per element outside links."""
    return s.text_chars / max(1, s.tags - s.links)


def score(s: Stats) -> float:
    """How much an element looks like an article container: dense text outside links, written with
    punctuation, in several paragraphs; 0 for an element with no text of its own."""
    if s.text_chars <= 0:
        return 0.0
    density = text_density(s)
    # Link text counts against: a list of links is text in links, however long.
    prose = s.text_chars * (1 - s.link_density) ** 2
    return density * math.log1p(prose) * math.log10(s.punctuation + 10) * math.log2(s.paragraphs + 2)


def value(s: Stats) -> float:
    """Prose minus everything else (link text, short unpunctuated text, lists of records): highest for
    the smallest element that still holds the article's prose."""
    return s.prose - (s.chars - s.prose)


def distance(s: Stats, headline: Stats | None) -> int:
    """Characters of page text between the headline and the element (0 when it holds the headline or
    there is none): an article follows its headline."""
    if headline is None:
        return 0
    if s.start <= headline.start and s.start + s.chars >= headline.start + headline.chars:
        return 0
    if s.start >= headline.start + headline.chars:
        return s.start - (headline.start + headline.chars)
    return headline.start - s.start  # before the headline: as far as it is


def ranked(stats: dict[etree._Element, Stats], headline: etree._Element | None = None,
           ) -> list[tuple[float, etree._Element]]:
    """(value, element) of the elements that could hold the article, best first: prose value, less
    half the text that separates it from the headline."""
    anchor = stats.get(headline) if headline is not None else None
    found = []
    for element, s in stats.items():
        if s.prose <= 0:
            continue
        far = max(0, distance(s, anchor) - HEADER_ALLOWANCE)
        found.append((value(s) - DISTANCE_WEIGHT * far, element))
    found.sort(key=lambda pair: -pair[0])
    return found


DISTANCE_WEIGHT = 0.5
HEADER_ALLOWANCE = 200  # characters: an info line, a summary, a picture's caption between headline and body


def best_container(stats: dict[etree._Element, Stats], headline: etree._Element | None = None,
                   ) -> etree._Element | None:
    """The element that most looks like the article's container, or None for a page with no prose."""
    found = ranked(stats, headline)
    return found[0][1] if found and found[0][0] > 0 else None
