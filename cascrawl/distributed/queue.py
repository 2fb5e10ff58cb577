"""The shared request queue: scrapy-redis's priority queue whose pop leases the request to this worker
(cascrawl.distributed.cluster) instead of removing it, and the one adapter over scrapy-redis's private
request encoding."""

from __future__ import annotations

from scrapy import Request
from scrapy_redis.queue import PriorityQueue

from cascrawl.distributed.cluster import Cluster
from cascrawl.distributed.meta import LEASE


# scrapy-redis has no public way to turn a request into the bytes its queues hold and back (0.9: the
# queue's _encode_request / _decode_request, its serializer over Request.to_dict). The leases, the atomic
# enqueue and the requeueing all work on those bytes, so they must be exactly what scrapy-redis stores:
# these two functions are the only users of that private API (tests/test_distributed_adapter.py fails
# loudly if an upgrade changes it).
def encode_request(queue: PriorityQueue, request: Request) -> bytes:
    """`request` as `queue` stores it in Redis."""
    return queue._encode_request(request)


def decode_request(queue: PriorityQueue, data: bytes) -> Request:
    """The request `queue` stored as `data`."""
    return queue._decode_request(data)


class LeasingQueue(PriorityQueue):
    """scrapy-redis's priority queue, whose pop leases (see the module docstring) instead of removing.
    Requests are queued by LeasingScheduler.enqueue_request (marked seen and queued in one step)."""

    cluster: Cluster | None = None

    def pop(self, timeout=0):
        data = self.cluster.pop()
        if not data:
            return None
        request = decode_request(self, data)
        request.meta[LEASE] = data
        return request
