"""Which element of a page holds the article: text and punctuation density, counted in characters.

The idea (the one GNE and CETD use on Chinese news pages, implemented here in our own terms): an article is
prose — text written in sentences, with punctuation, outside links — while navigation, lists of related links,
teasers, comments, footers and widgets are link text, short unpunctuated labels, or lists of like items that
each hold a link. Each element gets, in one bottom-up pass over the tree:

- `chars`: visible characters in its subtree, white space excluded (Chinese has no spaces to count words by);
- `prose`: those of them in text nodes outside links that hold punctuation or are long runs, not counting
  headings, nor the items of a list of like siblings (same tag and class, at least 3) that each hold a link
  and are shaped like teasers or comments (`_record_like`);
- `start`: the visible characters before it in document order (how far it is from the headline).

The container is the element with the most prose net of everything else it holds (`value`), less what
separates it from the headline beyond a header's worth of text. Pure: the tree is read, never changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

_ZERO_SIZE = re.compile(r"(?:^|;)(?:height|width):0(?:px)?(?:;|$)")
# Never visible text, never part of an article's text.
SKIPPED = frozenset("script style noscript template iframe object embed select textarea button head title".split())
# Punctuation, full- and half-width: prose has it, navigation rarely does.
PUNCTUATION = frozenset("，。！？；、,.!?;“”‘’「」『』（）()《》…—")  # not the colon: `来源：…` is a label
PROSE_RUN = 20  # characters: a text node this long is prose even without punctuation, unless it is labelled
HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
REPEATED = 3  # like siblings that make a list
# Elements that hold a paragraph or a line of text (the units of an article).
BLOCKS = frozenset("p div section article li td dd dt blockquote pre h1 h2 h3 h4 h5 h6 figure figcaption center table ul ol dl".split())


@dataclass(slots=True)
class Stats:
    """What an element's subtree holds (see the module's docstring)."""

    chars: int = 0
    link_chars: int = 0
    links: int = 0
    start: int = 0  # visible characters before the element, in document order
    prose: int = 0  # characters outside links in text written as sentences (punctuation) or long runs
    record: bool = False  # an item of a list of like siblings that each hold a link
    opens_with_link: bool = False  # its first text is link text (a linked headline or author name)

    @property
    def text_chars(self) -> int:
        return self.chars - self.link_chars

    @property
    def link_density(self) -> float:
        return self.link_chars / self.chars if self.chars else 0.0


def hidden(element: etree._Element) -> bool:
    """Written `display:none`, the `hidden` attribute, or a zero-size box that hides its overflow (text kept
    for screen readers): a browser shows none of it."""
    style = element.get("style")
    if style and ("none" in style or "0" in style):
        squeezed = "".join(style.split()).lower()
        if "display:none" in squeezed or ("overflow:hidden" in squeezed and _ZERO_SIZE.search(squeezed)):
            return True
    return element.get("hidden") is not None


def cited_address(anchor: etree._Element) -> bool:
    """A link whose text is its address (`原文链接：https://…`, a DOI): a reference the article cites,
    written out to be read, not a link to navigate by."""
    text = "".join(anchor.itertext()).strip().lower()
    return text.startswith(("http://", "https://", "www.", "doi:"))


def _counts(text: str | None) -> tuple[int, int]:
    """(characters without white space, prose characters) of one text node."""
    if not text:
        return 0, 0
    chars = len(text) - sum(map(text.count, _WHITE_SPACE)) if not text.isspace() else 0
    if not chars:
        return 0, 0
    prose = (len(text.translate(_WITHOUT_PUNCTUATION)) < len(text)
             or chars >= PROSE_RUN and "：" not in text and ":" not in text)  # a long label line is no prose
    return chars, chars if prose else 0


_WHITE_SPACE = (" ", "\n", "\t", "\r", "\xa0", "\u3000", "\u200b", "\ufeff")
_WITHOUT_PUNCTUATION = dict.fromkeys(map(ord, PUNCTUATION))


def measure(root: etree._Element) -> dict[etree._Element, Stats]:
    """Stats of every element under `root` (itself included), computed in one bottom-up pass."""
    stats: dict[etree._Element, Stats] = {}
    _measure(root, stats, in_link=False, offset=[0])
    return stats


def _measure(element: etree._Element, stats: dict, in_link: bool, offset: list[int]) -> Stats | None:
    if not isinstance(element.tag, str) or element.tag in SKIPPED or hidden(element):
        return None
    link = element.tag == "a" and not cited_address(element)
    in_link = in_link or link
    own = Stats(links=1 if link else 0, start=offset[0])
    own_text, own_prose = _counts(element.text)
    offset[0] += own_text
    opening = in_link if own_text else None  # whether its first text is link text, once known
    measured = []  # (signature, stats) of the children shaped like records
    for child in element:
        child_stats = _measure(child, stats, in_link, offset)
        if child_stats is not None:
            own.chars += child_stats.chars
            own.link_chars += child_stats.link_chars
            own.links += child_stats.links
            own.prose += child_stats.prose
            if opening is None and child_stats.chars:
                opening = child_stats.opens_with_link
            if child.tag not in _NEVER_RECORDS and _record_like(child_stats):
                measured.append(((child.tag, child.get("class")), child_stats))
        if child.tail:  # a child's tail is its parent's text
            tail, tail_prose = _counts(child.tail)
            own_text += tail
            own_prose += tail_prose
            offset[0] += tail
            if opening is None and tail:
                opening = in_link
    own.opens_with_link = bool(opening)
    if len(measured) >= REPEATED:
        counts: dict[tuple, int] = {}
        for signature, _ in measured:
            counts[signature] = counts.get(signature, 0) + 1
        for signature, child_stats in measured:
            if counts[signature] >= REPEATED:
                child_stats.record = True  # its prose is not the article's: the parent does not add it
                own.prose -= child_stats.prose
    own.chars += own_text
    if in_link:
        own.link_chars += own_text
    elif element.tag in HEADINGS:
        own.prose = 0  # a heading is not prose: a container is not chosen for its headline
    else:
        own.prose += own_prose
    stats[element] = own
    return own


def _record_like(s: Stats) -> bool:
    """Shaped like an item of a list of teasers or comments: it holds a link, and either it opens with it (a
    linked headline, an author's name) or a good share of its text is link text. A paragraph with a link
    inside a sentence is neither."""
    return s.links > 0 and (s.opens_with_link or s.link_density >= RECORD_LINK_SHARE)


RECORD_LINK_SHARE = 0.2


# Paragraphs, rows and pictures are never records: an article is a run of like paragraphs.
_NEVER_RECORDS = frozenset(("tr", "td", "th", "p", "br", "img"))


def repeated_records(element: etree._Element, stats: dict[etree._Element, Stats]) -> list[etree._Element]:
    """The children of `element` that are items of a list of records (see `measure`)."""
    return [child for child in element if child in stats and stats[child].record]


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
