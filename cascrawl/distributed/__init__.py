"""Distributed crawling: several workers, one crawl. scrapy-redis holds the shared request queue and
duplicate filter in Redis; PostgreSQL is the shared store. Switched on by one setting,
CASCRAWL_REDIS_URL (`cascrawl crawl --redis URL`), through the `Distributed` add-on.

What scrapy-redis does not do, and this module adds on top of it (thin subclasses, no copies):

- **Atomic queueing**: a request is marked seen and queued in one step (scrapy-redis takes two: a worker
  killed between them would leave a page marked seen that no queue holds).
- **Leases** (at-least-once delivery). scrapy-redis pops a request from the queue: a worker killed
  while it holds requests would lose them. Here a pop moves the request, atomically (a Lua script),
  from the queue into the worker's own lease set `<prefix>:<spider>:leases:<worker>`. A lease is
  released only when what the request produced is durable: the requests it led to are in the queue
  (a listing page's next page and articles, a retry, a redirect) and its item is written to the
  database (or the spool). Every worker renews a heartbeat key (`…:alive:<worker>`, expiring after
  CASCRAWL_REDIS_WORKER_TIMEOUT seconds); the leases of a worker whose heartbeat expired are put back
  into the queue by the others. A worker that stops (SIGTERM, end of run) puts its own leases back.
- **One run shared by the workers**: the first worker creates the run record (`crawl_runs`), the
  others join it (its id in `…:run`); each worker has a row in `run_workers` with its counts. The
  last worker to leave closes the run (status, summed stats, the sections' walks) and, when the queue
  is empty, clears the run's keys so that the next scheduled run starts afresh. Workers killed or
  stopped leave the queue and the duplicate filter in Redis: started again, they go on from there.
- **One per-host rate for the whole crawl**: a request is sent only when DOWNLOAD_DELAY seconds have
  passed since the last request *any* worker sent to that host (a Redis key per host, checked and set
  atomically at the moment the download starts).
- **Redis outages ridden out**: a Redis call that fails for a connection reason (each fails within
  seconds: no blocking retries in the reactor thread) pauses fetching; what the worker would have sent
  (requests its pages led to, lease releases) waits in memory, and Redis is tried again with back-off for
  up to CASCRAWL_REDIS_OUTAGE_SECONDS. Back with the run's state: what waited is sent, fetching resumes.
  Back *empty* (restarted without its data: the run's key `…:run` is the marker), or still away when the
  time is up: the worker stops cleanly (reason `redis_state_lost` / `redis_outage`), the run is left
  unfinished and no walk recorded complete, so the next run walks the listings again from the
  database's walk records, skipping what is stored. A signal is obeyed meanwhile.

The package, one piece per module (each imports only those above it in this list):
`meta` (request meta keys), `scripts` (the Lua), `preflight` (refusal: can distributed mode start?),
`addon` (Distributed: the settings), `cluster` (Cluster: the Redis side of one run, its mutex a redis-py
Lock), `queue` (LeasingQueue and the one adapter over scrapy-redis's private request encoding),
`outage` (RidingOutages: the scheduler's outage handling), `scheduler` (LeasingScheduler: leases,
heartbeats, idling), `middlewares` and `handler` (what the scheduler is told; the shared per-host
rate). The names other modules use are importable from here; importing this package loads only `meta`
until one of the others is asked for (the spider needs WALK, not redis-py).
"""

from __future__ import annotations

from importlib import import_module

from cascrawl.distributed.meta import LEASE, WALK

# name -> the module that defines it, loaded on first use (PEP 562)
_HOMES = {
    "Distributed": "addon",
    "refusal": "preflight",
    "Cluster": "cluster",
    "REDIS_OUTAGE_ERRORS": "cluster",
    "worker_name": "cluster",
    "LeasingQueue": "queue",
    "LeasingScheduler": "scheduler",
    "REDIS_GIVE_UP_REASONS": "scheduler",
    "scheduler_of": "scheduler",
    "LeaseSpiderMiddleware": "middlewares",
    "LeaseDownloaderMiddleware": "middlewares",
    "SharedRateDownloadHandler": "handler",
}

__all__ = ["LEASE", "WALK", *_HOMES]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
