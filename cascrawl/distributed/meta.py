"""The request meta keys of a distributed crawl. Imports only cascrawl.walk (pure)."""

from cascrawl.walk import WALK  # on listing pages: the section's walk so far, the walk module's own key

LEASE = "cascrawl_lease"  # the lease a popped request is held under (its queue member, bytes)

__all__ = ["LEASE", "WALK"]
