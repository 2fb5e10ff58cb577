"""Bytes of a page -> text: the HTTP header's charset, then `<meta charset>` / `http-equiv`, then detection.

w3lib does the first two (and decodes GB2312/GBK as GB18030, their superset); detection is ours
because Scrapy's own guess falls back to cp1252, which turns an undeclared GBK page into mojibake.
Chinese sites use UTF-8 or the GB family, so those are the candidates, tried strictly.
"""

from __future__ import annotations

from w3lib.encoding import html_to_unicode

_CANDIDATES = ("utf-8", "gb18030", "big5")
# Control bytes that no text page holds (the WHATWG MIME-sniffing "binary data bytes"): HTML in UTF-8,
# GBK or Big5 never contains them, an image, a PDF or an archive almost always does in its first bytes.
_BINARY_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_SNIFF = 8192


def looks_binary(body: bytes) -> bool:
    """True for a body that is not a text page (whatever its Content-Type claims): it holds a binary
    control byte in its first 8 KB."""
    head = body[:_SNIFF]
    return len(head.translate(None, _BINARY_BYTES)) != len(head)


def detect_encoding(body: bytes) -> str | None:
    for encoding in _CANDIDATES:
        try:
            body.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def decode_html(body: bytes, content_type: str | bytes | None = None) -> tuple[str, str]:
    """(text, encoding used). Undecodable bytes become U+FFFD rather than an exception."""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    encoding, text = html_to_unicode(content_type, body, default_encoding="utf-8", auto_detect_fun=detect_encoding)
    if "\ufffd" in text:
        # A declared charset that does not fit the bytes (a GBK page served as UTF-8): trust the bytes.
        detected = detect_encoding(body)
        if detected and detected != encoding:
            return body.decode(detected), detected
    return text, encoding
