"""JSON answers of the API: encoded once (orjson), an ETag from what they carry, 304 on a match, gzip'd copies kept.

Every JSON answer of the API that a client may poll goes through `json_answer`:

- the body is encoded by orjson (UTF-8, Chinese as it is, compact), not validated again against the response
  model (the records are built by cascrawl.api.records; tests/test_api_contract.py checks them against the
  schema);
- its ETag is weak (`W/"…"`): a hash of the answer without the fields that move at every crawl although
  nothing the contract carries changed (`last_seen_at`); unchanged content, unchanged ETag, across any
  number of re-crawls. Weak, because such an answer may differ in those fields, and in its content coding;
- `If-None-Match` matching it gives `304 Not Modified` without a body;
- a large body asked for with gzip is compressed here, and the compressed copy is kept (a bounded cache by
  a hash of the body: the newest page of a listing or a feed is asked for by every poller), so the same content is not
  compressed again. Starlette's GZipMiddleware compresses every other large answer (pages, OpenAPI).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from typing import Any, Iterable

import orjson
from starlette.requests import Request
from starlette.responses import Response

GZIP_MIN_SIZE = 1024  # smaller answers are sent as they are (compressing them saves too little)
# CPU against size, as nginx's default (gzip_comp_level 1): on a page of 50 Chinese articles, level 1 takes
# 0.45x the CPU of level 5 for a third more bytes (still a quarter of the plain size), level 9 1.5x level 5.
GZIP_LEVEL = 1
CACHE_BYTES = 32 * 1024 * 1024  # compressed answers kept per process

JSON_TYPE = "application/json"


def encode(body: Any) -> bytes:
    return orjson.dumps(body)


def etag_of(body: Any, leave_out: Iterable[str] = ()) -> str:
    """The weak ETag of an answer: a hash of its encoding, without the top-level keys `leave_out`."""
    leave_out = frozenset(leave_out)
    if leave_out and isinstance(body, dict):
        body = {key: value for key, value in body.items() if key not in leave_out}
    return 'W/"' + hashlib.sha256(orjson.dumps(body)).hexdigest()[:32] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x"; `*` matches any."""
    if not header:
        return False
    mine = etag.removeprefix("W/")
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or mine in (candidate.removeprefix("W/") for candidate in candidates)


def accepts_gzip(request: Request) -> bool:
    """gzip named in Accept-Encoding and not refused with q=0."""
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, *params = (piece.strip() for piece in part.split(";"))
        if coding in ("gzip", "x-gzip"):
            for param in params:
                if param.startswith("q="):
                    try:
                        return float(param[2:]) > 0
                    except ValueError:
                        return False
            return True
    return False


class CompressedCopies:
    """gzip'd bodies by a hash of the body, the least recently used dropped beyond `limit` bytes; safe across threads."""

    def __init__(self, limit: int = CACHE_BYTES):
        self.limit = limit
        self.size = 0
        self._copies: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, content: bytes) -> bytes:
        with self._lock:
            found = self._copies.get(key)
            if found is not None:
                self._copies.move_to_end(key)
                return found
        compressed = gzip.compress(content, compresslevel=GZIP_LEVEL, mtime=0)
        if len(compressed) <= self.limit:
            with self._lock:
                if key not in self._copies:
                    self._copies[key] = compressed
                    self.size += len(compressed)
                    while self.size > self.limit:
                        _, dropped = self._copies.popitem(last=False)
                        self.size -= len(dropped)
        return compressed


def json_answer(request: Request, body: Any, copies: CompressedCopies, *, leave_out: Iterable[str] = (),
                headers: dict[str, str] | None = None) -> Response:
    """`body` as a JSON answer with its ETag (see the module's docstring); 304 when If-None-Match matches."""
    content = encode(body)
    key = hashlib.sha256(content).hexdigest()[:32]
    etag = etag_of(body, leave_out) if leave_out else f'W/"{key}"'
    headers = {**(headers or {}), "ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if len(content) >= GZIP_MIN_SIZE and accepts_gzip(request):
        return Response(copies.get(key, content), media_type=JSON_TYPE, headers={**headers, "Content-Encoding": "gzip"})
    return Response(content, media_type=JSON_TYPE, headers=headers)
