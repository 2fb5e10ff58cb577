"""The host policy alone (cascrawl.hosts): which URLs cascrawl may request, and the reject codes of failed fetches."""

from __future__ import annotations

import pytest
from scrapy.exceptions import IgnoreRequest

from cascrawl.encoding import looks_binary
from cascrawl.hosts import HostPolicy, OffsiteRequest, fetch_failure, offsite_reason

LIVE = HostPolicy.for_base_url("https://www.cas.cn")
MIRROR = HostPolicy.for_base_url("http://127.0.0.1:8123")


@pytest.mark.parametrize("url", [
    "https://www.cas.cn/yw/202506/t20250610_5072001.shtml",
    "http://www.cas.cn/robots.txt",
    "https://cas.cn/yw/",
    "https://WWW.CAS.CN./yw/",  # case and the root label's dot do not make another host
    "https://www.cas.cn:443/yw/",
])
def test_the_site_itself_is_allowed(url):
    assert LIVE.allows(url)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/",  # loopback
    "http://10.0.0.8/yw/",  # a private address
    "http://169.254.169.254/latest/meta-data/",  # a cloud metadata address
    "https://www.cas.cn.evil.example/yw/",  # a name that starts like the site
    "https://evil.cas.cn/yw/",  # subdomains are other hosts (Scrapy's allowed_domains would let them in)
    "https://www.nimte.cas.cn/",
    "https://www.cas.ac.cn/yw/",  # an alias the crawler rewrites onto the base, never requests
    "https://www.cas.cn:8443/yw/",  # another port of the site
    "https://www.cas.cn@127.0.0.2/yw/",  # user info: the host is 127.0.0.2
    "ftp://www.cas.cn/yw/",
    "file:///etc/passwd",
    "http://[::1]/",
    "http://2130706433/",  # 127.0.0.1 as a decimal number
    "not a url",
    "http://www.cas.cn:notaport/",
])
def test_other_hosts_ports_and_schemes_are_refused(url):
    assert not LIVE.allows(url)


def test_a_mirror_allows_exactly_its_host_and_port_and_the_site():
    assert MIRROR.allows("http://127.0.0.1:8123/yw/index.shtml")
    assert MIRROR.allows("https://www.cas.cn/yw/")
    assert not MIRROR.allows("http://127.0.0.1:8124/yw/")  # another port of the same address
    assert not MIRROR.allows("http://127.0.0.1/yw/")
    assert not MIRROR.allows("http://127.0.0.2:8123/yw/")  # another loopback address
    assert not MIRROR.allows("http://localhost:8123/yw/")  # another name for it is another host


def test_the_allowed_site_hosts_come_from_the_setting():
    policy = HostPolicy.for_base_url("https://www.cas.cn", ["www.cas.cn", "www.cas.ac.cn"])
    assert policy.allows("https://www.cas.ac.cn/yw/") and not policy.allows("https://cas.cn/yw/")


def test_the_crawl_reads_its_allowed_hosts_from_the_setting():
    """docs/operations.md: `-s 'CASCRAWL_ALLOWED_HOSTS=[…]'` lets the crawler follow the site to another host."""
    from scrapy import Request, Spider
    from scrapy.utils.test import get_crawler

    from cascrawl.middlewares import HostPolicyMiddleware

    crawler = get_crawler(Spider, {"CASCRAWL_ALLOWED_HOSTS": ["www.cas.cn", "www.cas.ac.cn"],
                                   "CASCRAWL_BASE_URL": "https://www.cas.cn"})
    crawler.spider = crawler._create_spider("cas")
    middleware = HostPolicyMiddleware.from_crawler(crawler)
    assert middleware.process_request(Request("https://www.cas.ac.cn/yw/")) is None
    with pytest.raises(OffsiteRequest):
        middleware.process_request(Request("https://cas.cn/yw/"))  # a default host the setting left out
    assert crawler.stats.get_value("cascrawl/offsite/requests_refused") == 1


def test_reject_codes_of_failed_fetches():
    assert offsite_reason([]) == "offsite_link"
    assert offsite_reason([302]) == "offsite_redirect"
    assert offsite_reason([301, "meta refresh"]) == "offsite_refresh"
    refused = OffsiteRequest("offsite_redirect", "http://127.0.0.2/x", "http://127.0.0.1:1/a")
    assert isinstance(refused, IgnoreRequest)
    assert fetch_failure(refused, str(refused)) == "offsite_redirect"
    assert "127.0.0.2" in str(refused) and "http://127.0.0.1:1/a" in str(refused)
    assert fetch_failure(IgnoreRequest(), "Ignored response <200 http://x/> because its body (2087280 B compressed, "
                         "10551296 B decompressed so far) exceeded DOWNLOAD_MAXSIZE (10485760 B) during decompression.") \
        == "too_large"
    assert fetch_failure(Exception(), "Received 10485761 bytes which is larger than download max size (10485760) "
                         "in request <GET http://x/>.") == "too_large"
    assert fetch_failure(Exception(), "Getting http://x/ took longer than 3.0 seconds.") == "fetch_failed"
    assert fetch_failure(Exception(), "", {"cascrawl_too_large": 10485761}) == "too_large"  # cut while arriving
    assert fetch_failure(Exception(), "", {"cascrawl_bytes_received": 10}) == "fetch_failed"


def test_binary_bodies_are_told_from_pages_by_their_bytes():
    assert looks_binary(bytes(range(256)))
    assert looks_binary(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert looks_binary(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<\x00>>")
    assert not looks_binary("<html><body><p>中国科学院\t院内要闻</p></body></html>\r\n".encode("utf-8"))
    assert not looks_binary("<p>中国科学院 喆 镕</p>".encode("gb18030"))
    assert not looks_binary("<p>中國科學院</p>".encode("big5"))
    assert not looks_binary(b"")
