"""JSON answers of the API: encoded once (orjson), an ETag from what they carry, 304 on a match, gzip'd copies kept.

Every JSON answer of the API that a client may poll goes through `Answers.json`:

- the body is encoded by orjson (UTF-8, Chinese as it is, compact), not validated again against the response
  model (the records are built by cascrawl.api.records; tests/test_api_contract.py checks them against the
  schema);
- its ETag is weak (`W/"…"`): a hash of the answer without the fields that move at every crawl although
  nothing the contract carries changed (`last_seen_at`); unchanged content, unchanged ETag, across any
  number of re-crawls. Weak, because such an answer may differ in those fields, and in its content coding;
- `If-None-Match` matching it gives `304 Not Modified` without a body;
- a large body asked for with gzip is compressed here, and the compressed copy is kept (a bounded cache by
  a hash of the body: the newest page of a listing or a feed is asked for by every poller), so the same content is not
  compressed again. Starlette's GZipMiddleware compresses every other large answer (pages, OpenAPI);
- on SQLite, the whole answer is kept by URL until something is committed to the database (see Answers).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cascrawl.db.reads import ChangeCounter

GZIP_MIN_SIZE = 1024  # smaller answers are sent as they are (compressing them saves too little)
# CPU against size, as nginx's default (gzip_comp_level 1): on a page of 50 Chinese articles, level 1 takes
# 0.45x the CPU of level 5 for a third more bytes (still a quarter of the plain size), level 9 1.5x level 5.
GZIP_LEVEL = 1
CACHE_BYTES = 32 * 1024 * 1024  # per process: this much of compressed answers, and as much of whole answers

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


class Kept:
    """Values by key, the least recently used dropped beyond `limit` bytes (each value's size given); safe
    across threads (the API's routes run in worker threads)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self._values: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            found = self._values.get(key)
            if found is None:
                return None
            self._values.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        if size > self.limit:
            return
        with self._lock:
            if key in self._values:
                return
            self._values[key] = (value, size)
            self.size += size
            while self.size > self.limit:
                _, (_, dropped) = self._values.popitem(last=False)
                self.size -= dropped


class CompressedCopies(Kept):
    """gzip'd bodies by a hash of the body."""

    def __init__(self, limit: int = CACHE_BYTES):
        super().__init__(limit)

    def compressed(self, key: str, content: bytes) -> bytes:
        found = self.get(key)
        if found is None:
            found = gzip.compress(content, compresslevel=GZIP_LEVEL, mtime=0)
            self.put(key, found, len(found))
        return found


@dataclass(frozen=True)
class Encoded:
    """An answer ready to send: its bytes, a hash of them, its ETag and its own headers."""

    content: bytes
    key: str
    etag: str
    headers: dict[str, str]


def encoded(body: Any, leave_out: Iterable[str] = (), headers: dict[str, str] | None = None) -> Encoded:
    content = encode(body)
    key = hashlib.sha256(content).hexdigest()[:32]
    etag = etag_of(body, leave_out) if leave_out else f'W/"{key}"'
    return Encoded(content, key, etag, {**(headers or {}), "ETag": etag, "Cache-Control": "no-cache",
                                        "Vary": "Accept-Encoding"})


class Answers:
    """The JSON answers of one app (one process): their gzip'd copies and, on SQLite, whole answers by URL
    for as long as the database is unchanged (reads.ChangeCounter): the same page asked for again, by any
    number of pollers, is neither read nor encoded again until something is committed to the database."""

    def __init__(self, changes: ChangeCounter | None = None, limit: int = CACHE_BYTES):
        self.changes = changes
        self.copies = CompressedCopies(limit)
        self.kept = Kept(limit)

    def json(self, request: Request, build: Callable[[], Any], leave_out: Iterable[str] = (),
             headers: Callable[[Any], dict[str, str]] | None = None) -> Response:
        """The answer of `build()` (a JSON body, or a Response sent as it is and never kept), with the headers
        `headers(body)` gives; 304 when If-None-Match names its ETag."""
        number = self.changes.current() if self.changes is not None else None
        key = (number, str(request.url))
        found = self.kept.get(key) if number is not None else None
        if found is None:
            body = build()
            if isinstance(body, Response):
                return body
            found = encoded(body, leave_out, headers(body) if headers else None)
            if number is not None:
                self.kept.put(key, found, len(found.content) + 200)
        return self.send(request, found)

    def send(self, request: Request, answer: Encoded) -> Response:
        if etag_matches(request.headers.get("if-none-match"), answer.etag):
            return Response(status_code=304, headers=answer.headers)
        if len(answer.content) >= GZIP_MIN_SIZE and accepts_gzip(request):
            return Response(self.copies.compressed(answer.key, answer.content), media_type=JSON_TYPE,
                            headers={**answer.headers, "Content-Encoding": "gzip"})
        return Response(answer.content, media_type=JSON_TYPE, headers=answer.headers)
