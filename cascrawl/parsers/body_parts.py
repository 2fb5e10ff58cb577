"""What the body holds besides its text: the body as a sanitized HTML fragment (cascrawl/sanitize.py), images with captions, videos,
attachment links, and the related-news blocks under an article. Pure functions of a page's tree."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from cascrawl.parsers.base import Page, visible_text
from cascrawl.sanitize import sanitize_html

_ATTACHMENT_LABELS = ("附件下载", "附件下載", "附件：", "附件:")
_CAPTION_MAX = 80
# The src of an embedded player (when the iframe does not say allowfullscreen).
_PLAYER_SOURCE = re.compile(r"player|video|/vod/|/embed|\.(?:mp4|m3u8|flv|webm)(?:$|\?)", re.IGNORECASE)
# A label heading a block of other articles (a short line, alone in its element).
_LABEL_MAX = 12
_RELATED_LABEL = re.compile(
    r"[【\[\s]*(?:(?:更多|相关|热门|推荐|精彩|往期|其他|其它)(?:视频|新闻|阅读|文章|报道|链接|推荐|回顾|专题)|视频推荐|延伸阅读"
    r"|推荐阅读|猜你喜欢|更多精彩)"
    r"[】\]\s:：>»›+＋]*"
)
_POSITION = etree.XPath("count(preceding::*) + count(ancestor::*)")
_LABEL_WORDS = etree.XPath(
    ".//text()[contains(., '更多') or contains(., '相关') or contains(., '热门') or contains(., '推荐')"
    " or contains(., '精彩') or contains(., '延伸') or contains(., '猜你')]"
)


def body_fragment(body: etree._Element, page: Page) -> str:
    """The body as an HTML fragment: links and images made absolute, then through the allow-list sanitizer
    (scripts, players, widgets, forms and comments go; cascrawl/sanitize.py)."""
    fragment = lxml.html.fromstring(etree.tostring(body, encoding="unicode", with_tail=False))
    # A <base> in the body goes first: lxml's make_links_absolute honours it despite resolve_base_href=False
    # (its rewrite_links resolves <base href> by default), which let a hostile page point every link elsewhere.
    for base in list(fragment.iter("base")):
        base.drop_tree()
    fragment.make_links_absolute(page.link_base, resolve_base_href=False)
    return sanitize_html(etree.tostring(fragment, encoding="unicode", method="html"))


def images_with_captions(body: etree._Element, page: Page) -> list[dict]:
    """Images of the body with their caption: the short text block right after the image's block,
    else right before it (CAS puts captions on either side)."""
    images = []
    for img in body.iter("img"):
        src = (img.get("src") or "").strip()
        if not src or src.startswith("data:"):
            continue
        block = _image_block(img, body)
        caption = None
        if block is not None and not visible_text(block):
            caption = _caption_near(block, "next") or _caption_near(block, "previous")
        images.append({"url": page.absolute(src), "caption": caption})
    return images


def body_videos(body: etree._Element, page: Page) -> list[dict]:
    """Videos of the body: `<video src>` or its `<source src>` children (the first playable one, with
    its MIME type when given), and the poster image; an embedded player (`<iframe>` or `<embed>` of a
    video page or file) as a video of type "player". Some CAS stories are only a video and a caption."""
    return [video for element in body.iter("video", "iframe", "embed") if (video := _video_of(element, page))]


def _video_of(element: etree._Element, page: Page) -> dict | None:
    if element.tag == "video":
        src, kind = (element.get("src") or "").strip(), None
        if not src:
            source = next((s for s in element.iter("source") if (s.get("src") or "").strip()), None)
            if source is None:
                return None
            src, kind = source.get("src").strip(), (source.get("type") or "").strip() or None
        poster = (element.get("poster") or "").strip()
        return {"url": page.absolute(src), "type": kind, "poster": page.absolute(poster) if poster else None}
    src = (element.get("src") or element.get("data-src") or "").strip()
    if not src or src.startswith(("javascript:", "about:", "data:")):
        return None
    if element.get("allowfullscreen") is None and not _PLAYER_SOURCE.search(src):
        return None  # an advert, a map, a form: not a player
    return {"url": page.absolute(src), "type": "player", "poster": None}


def players_between(headline: etree._Element, body: etree._Element, page: Page) -> list[dict]:
    """Videos after the headline and before the body, in document order."""
    candidates = [e for e in page.root.iter("video", "iframe", "embed") if not is_inside(e, body)]
    if not candidates:
        return []
    start, end = document_position(headline), document_position(body)
    return [video for element in candidates
            if start < document_position(element) < end and not is_inside(element, headline)
            if (video := _video_of(element, page))]


def document_position(element: etree._Element) -> float:
    return _POSITION(element)


def is_inside(element: etree._Element, container: etree._Element) -> bool:
    return any(node is container for node in element.iterancestors())


def related_blocks(body: etree._Element) -> list[etree._Element]:
    """Blocks of the body headed by a label such as 更多视频, 相关新闻, 延伸阅读: the box the label heads
    (its first line, in a box without sentences), else the label and the items after it up to the next
    prose (teasers of other articles carry no sentences)."""
    blocks: list[etree._Element] = []
    for heading in _label_elements(body):
        if any(is_inside(heading, b) or heading is b for b in blocks):
            continue
        box = heading
        if heading.getprevious() is None and heading.getnext() is not None:
            while box.getparent() is not body and not _prose(box.getparent()):
                box = box.getparent()
        if box is not heading:
            blocks.append(box)
            continue
        blocks.append(heading)
        for sibling in heading.itersiblings():  # the label alone in its line: the items that follow it
            if not isinstance(sibling.tag, str) or _prose(sibling):
                break
            blocks.append(sibling)
    return blocks


def _label_elements(body: etree._Element) -> list[etree._Element]:
    """The elements of the body whose whole text is a related-block label (found from the text nodes
    that hold one of its words: a walk over every element would cost more than the rest of the parse)."""
    found = []
    for text in _LABEL_WORDS(body):
        if len(text.strip()) > _LABEL_MAX or text.is_tail:
            continue
        element = text.getparent()
        while element is not None and element is not body:
            whole = visible_text(element, spaced=False)
            if len(whole) > _LABEL_MAX:
                break
            if _RELATED_LABEL.fullmatch(whole):
                if element not in found:
                    found.append(element)
                break
            element = element.getparent()
    return found


def _prose(element: etree._Element) -> bool:
    return any(mark in visible_text(element) for mark in "。！？")


def _image_block(img: etree._Element, body: etree._Element) -> etree._Element | None:
    node = img
    while node is not None and node is not body:
        parent = node.getparent()
        if node.tag in ("p", "div", "center", "figure", "span", "a", "font", "strong") and parent is not None:
            if node.tag in ("p", "div", "center", "figure") or parent is body:
                return node
        node = parent
    return img if img.getparent() is body else None


def _caption_near(block: etree._Element, direction: str) -> str | None:
    sibling = block.getnext() if direction == "next" else block.getprevious()
    while sibling is not None and not isinstance(sibling.tag, str):
        sibling = sibling.getnext() if direction == "next" else sibling.getprevious()
    if sibling is None or list(sibling.iter("img")):
        return None
    text = visible_text(sibling)
    if not text or len(text) > _CAPTION_MAX:
        return None
    # A bold-only line is a subheading, not a caption.
    bold = "".join(visible_text(b) for b in sibling.iter("strong", "b"))
    if bold and bold.replace(" ", "") == text.replace(" ", ""):
        return None
    # A caption before the image must not end a paragraph of prose running into it.
    if direction == "previous" and text.endswith(("。", "！", "？", "：")) and not text.endswith(("摄。", "图。")):
        return None
    return text


def attachment_links(page: Page) -> list[dict]:
    """Links of the 附件下载 block: inside the labelled element, else in the siblings that follow it."""
    if not any(word in page.all_text for word in _ATTACHMENT_LABELS):
        return []  # most pages: no text node holds a label, so no element's text or tail does
    for element in page.root.iter():
        if not isinstance(element.tag, str) or element.tag in ("script", "style", "title", "head"):
            continue
        if any(word in (element.text or "") for word in _ATTACHMENT_LABELS):
            anchors = _links(element)
            following = element.itersiblings()
        elif any(word in (element.tail or "") for word in _ATTACHMENT_LABELS):
            anchors, following = [], element.itersiblings()
        else:
            continue
        if not anchors:
            for sibling in following:  # the links that follow the label, up to the first thing that is not one
                found = _links(sibling)
                if not found:
                    break
                anchors.extend(found)
        return [{"url": page.absolute(a.get("href")), "name": visible_text(a) or None} for a in anchors]
    return []


def _links(element: etree._Element) -> list[etree._Element]:
    if not isinstance(element.tag, str):
        return []
    return [
        a for a in element.iter("a")
        if (a.get("href") or "").strip() and not a.get("href").strip().startswith(("javascript:", "#", "mailto:"))
    ]
