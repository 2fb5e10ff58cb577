"""The words the progress display uses for a failed fetch (cascrawl/extensions.py)."""

from __future__ import annotations

from twisted.internet import error
from twisted.web.client import ResponseFailed

from cascrawl.extensions import describe_fetch_failure, failure_reason


def test_network_failures_are_named_in_a_few_words():
    assert failure_reason(error.DNSLookupError("www.cas.cn")) == "DNS lookup failed"
    assert failure_reason(error.ConnectionRefusedError()) == "connection refused"
    assert failure_reason(error.TCPTimedOutError()) == "timed out"
    assert failure_reason(error.TimeoutError()) == "timed out"
    assert failure_reason(ResponseFailed([])) == "connection lost"
    assert failure_reason(ValueError("not a network failure")) is None
    import scrapy.exceptions

    for name, words in [("CannotResolveHostError", "DNS lookup failed"),
                        ("DownloadConnectionRefusedError", "connection refused"),
                        ("DownloadTimeoutError", "timed out")]:  # what Scrapy raises instead, where it has them
        if hasattr(scrapy.exceptions, name):
            assert failure_reason(getattr(scrapy.exceptions, name)("x")) == words


def test_the_line_says_which_retry_follows_or_that_none_does():
    assert describe_fetch_failure("www.cas.cn", "DNS lookup failed", 1, 2) == "www.cas.cn: DNS lookup failed, retry 1 of 2"
    assert describe_fetch_failure("www.cas.cn", "timed out", 0, 2) == "www.cas.cn: timed out, no retry left"
