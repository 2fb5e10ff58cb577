"""Which hosts cascrawl may contact, and what a failed fetch says about why it failed.

cascrawl requests only the site: www.cas.cn and cas.cn (CASCRAWL_ALLOWED_HOSTS), on the standard
ports, and the exact host and port of the crawled base URL (`--base-url`). Everything else — other
hosts, other ports of the same address, loopback or private addresses that are not the base URL's —
is refused before any byte is sent, whether the URL came from a listing, a 3xx `Location`, a
`<meta http-equiv="refresh">` or a retry (`cascrawl.middlewares.HostPolicyMiddleware`).
Pure functions and a tiny exception: no Scrapy engine, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_port(url: str) -> tuple[str, int] | None:
    """(lower-case host without a trailing dot, effective port) of an http(s) URL; None for anything else
    (another scheme, user info in the authority, no host, a port that is not a number)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    return parts.hostname.rstrip(".").lower(), port or DEFAULT_PORTS[parts.scheme]


@dataclass(frozen=True)
class HostPolicy:
    """Allowed = one of `site_hosts` on port 80/443, or exactly the base URL's host and port."""

    base: tuple[str, int] | None
    site_hosts: frozenset[str]

    @classmethod
    def for_base_url(cls, base_url: str, site_hosts=("www.cas.cn", "cas.cn")) -> HostPolicy:
        return cls(_host_port(base_url), frozenset(h.strip().rstrip(".").lower() for h in site_hosts if h.strip()))

    def allows(self, url: str) -> bool:
        found = _host_port(url)
        if found is None:
            return False
        if found == self.base:
            return True
        host, port = found
        return host in self.site_hosts and port in DEFAULT_PORTS.values()


def host_of(url: str) -> str:
    """`host[:port]` as written in the URL, for logs and reject details."""
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url


def count_offsite(stats, host: str) -> bool:
    """Count one off-site target of `host` in the crawl's stats (`cascrawl/offsite/host/<host>`); True the
    first time, so that each host is logged once per run wherever it was met (listing, redirect, refresh)."""
    key = f"cascrawl/offsite/host/{host}"
    first = not stats.get_value(key)
    stats.inc_value(key)
    if first:
        stats.inc_value("cascrawl/offsite/hosts")
    return first


class OffsiteRequest(IgnoreRequest):
    """A request refused by the host policy. `reason` is the reject code of the article behind it:
    offsite_redirect (a 3xx Location), offsite_refresh (a meta refresh) or offsite_link (any other
    request to another host)."""

    def __init__(self, reason: str, url: str, origin: str):
        self.reason, self.url, self.origin = reason, url, origin
        via = {"offsite_redirect": "redirected", "offsite_refresh": "meta refresh"}.get(reason, "linked")
        super().__init__(f"{via} off the site to {url} (from {origin}): host {host_of(url)} is not allowed")


def offsite_reason(redirect_reasons: list) -> str:
    """The reject code for an off-site request, from the `redirect_reasons` Scrapy put in its meta."""
    if not redirect_reasons:
        return "offsite_link"
    return "offsite_refresh" if redirect_reasons[-1] == "meta refresh" else "offsite_redirect"


# Messages of the failures Scrapy gives a response over DOWNLOAD_MAXSIZE: the download handler's
# ("… larger than download max size …", on the wire) and HttpCompressionMiddleware's ("… exceeded
# DOWNLOAD_MAXSIZE … during decompression").
_TOO_LARGE = ("larger than download max size", "exceeded DOWNLOAD_MAXSIZE")


def fetch_failure(error: BaseException, message: str, meta: dict | None = None) -> str:
    """The reject code of an article whose fetch failed with `error` (its failure message `message`; the
    request's `meta`, where ResponseSizeMiddleware marks a body cut for its size)."""
    if isinstance(error, OffsiteRequest):
        return error.reason
    if any(marker in message for marker in _TOO_LARGE) or (meta or {}).get("cascrawl_too_large"):
        return "too_large"
    return "fetch_failed"
