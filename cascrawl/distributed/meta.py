"""The request meta keys of a distributed crawl. Imports nothing."""

LEASE = "cascrawl_lease"  # the lease a popped request is held under (its queue member, bytes)
WALK = "cascrawl_walk"  # on listing pages: the section's walk so far (see spiders/cas_news.py)
