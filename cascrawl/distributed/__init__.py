"""Distributed crawling (a package now: cascrawl/distributed/scheduler.py holds what was distributed.py,
split into modules in the next commit). Re-exports its names."""

from cascrawl.distributed.scheduler import *  # noqa: F401,F403
from cascrawl.distributed.scheduler import REDIS_GIVE_UP_REASONS, WALK, Cluster, refusal, scheduler_of  # noqa: F401
