"""A crawl's run: its record and lock (record.py, the RunRecord extension), the verdict on how it went
(verdict.py), the end-of-run health check (healthcheck.py), the writes of a batch (writes.py) and the database
thread they run in (thread.py), riding out a database outage (outage.py), the spool replay at the start
(replay.py) and a distributed worker's part in the shared run (shared.py).

May import cascrawl's lower modules (db, health, spool, walk, distributed, engine); never spiders or pipelines.
"""
