"""The one use of scrapy-redis's private API (cascrawl.distributed.queue: encode_request and
decode_request, over its queues' _encode_request / _decode_request), held to scrapy-redis's public
behaviour: the leases, the atomic enqueue and the requeueing work on the exact bytes scrapy-redis's own
queue stores. If an upgrade renames those methods or changes what they store, these fail: fix the adapter."""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy_redis.queue import PriorityQueue

from cascrawl.distributed.queue import LeasingQueue, decode_request, encode_request

from .redis_server import redis_run  # noqa: F401


class _Spider(Spider):
    name = "cas_news"

    def parse_article(self, response):
        return None


def _queue(redis_run, cls=PriorityQueue):
    return cls(redis_run.client, _Spider(), f"{redis_run.prefix}:%(spider)s:requests")


def _request(spider) -> Request:
    return Request("http://127.0.0.1/syky/t1.shtml", callback=spider.parse_article, priority=3,
                   meta={"cascrawl_walk": {"section": "syky", "pages": 2}}, cb_kwargs={"section": "syky"},
                   dont_filter=True)


def test_encode_request_gives_the_bytes_scrapy_redis_stores_for_a_request(redis_run):
    queue = _queue(redis_run)
    request = _request(queue.spider)
    queue.push(request)  # scrapy-redis's public way in
    (stored, score), = redis_run.client.zrange(queue.key, 0, -1, withscores=True)
    assert isinstance(stored, bytes) and stored == encode_request(queue, request)
    assert score == -request.priority


def test_decode_request_gives_back_the_request_scrapy_redis_pops(redis_run):
    queue = _queue(redis_run)
    request = _request(queue.spider)
    data = encode_request(queue, request)
    queue.push(request)
    popped, decoded = queue.pop(), decode_request(queue, data)  # scrapy-redis's public way out, and ours
    for back in (popped, decoded):
        assert (back.url, back.priority, back.meta, back.cb_kwargs, back.dont_filter) == (
            request.url, request.priority, request.meta, request.cb_kwargs, request.dont_filter)
        assert back.callback == queue.spider.parse_article


def test_the_leasing_queue_pops_a_request_with_its_lease(redis_run):
    from cascrawl.distributed import LEASE, Cluster

    queue = _queue(redis_run, LeasingQueue)
    queue.cluster = Cluster(redis_run.client, queue.key.rsplit(":", 1)[0], "one", timeout=30)
    request = _request(queue.spider)
    data = encode_request(queue, request)
    redis_run.client.zadd(queue.key, {data: -request.priority})
    popped = queue.pop()
    assert popped.url == request.url and popped.meta[LEASE] == data
    assert redis_run.client.zrange(queue.cluster.leases_key, 0, -1) == [data] and len(queue) == 0
