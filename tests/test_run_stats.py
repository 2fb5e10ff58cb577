"""What a run record stores of the stats: as JSON (json_safe), and for a distributed run summed over its
workers' rows (summed_stats, cascrawl/run/shared.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from cascrawl.run.shared import summed_stats
from cascrawl.run.snapshot import json_safe


def test_stats_as_json_keep_numbers_and_lists_and_spell_out_the_rest():
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    stats = {"start_time": moment, "count": 3, "share": 0.5, "sections": ("yw",), "odd": object}
    assert json_safe(stats) == {"start_time": "2026-01-02T03:04:05+00:00", "count": 3, "share": 0.5,
                                "sections": ["yw"], "odd": str(object)}


def test_a_distributed_run_sums_every_count_over_the_workers_but_not_maxima_ids_or_flags():
    workers = [
        {"worker": "w1", "status": "finished",
         "stats": {"cascrawl/db/articles_upserted": 10, "downloader/request_count": 30, "cascrawl/db/flush_seconds_max": 0.5,
                   "cascrawl/db/run_id": 7, "cascrawl/db/outage_locked": True, "cascrawl/coverage/share/body": 0.25,
                   "cascrawl/health/status": "ok"}},
        {"worker": "w2", "status": "interrupted",
         "stats": {"cascrawl/db/articles_upserted": 5, "downloader/request_count": 12, "cascrawl/db/flush_seconds_max": 0.9,
                   "cascrawl/db/run_id": 7, "cascrawl/coverage/share/body": 0.5}},
        {"worker": "w3", "status": "running", "stats": None},
    ]
    own = {"cascrawl/db/articles_upserted": 5, "cascrawl/db/flush_seconds_max": 0.9, "cascrawl/db/run_id": 7,
           "finish_reason": "finished", "cascrawl/db/outage_locked": False}
    totals = summed_stats(workers, own)
    assert totals["cascrawl/db/articles_upserted"] == 15
    assert totals["downloader/request_count"] == 42
    assert totals["cascrawl/coverage/share/body"] == 0.75  # every number is summed, shares too
    assert totals["cascrawl/db/flush_seconds_max"] == 0.9 and totals["cascrawl/db/run_id"] == 7  # this worker's
    assert totals["cascrawl/db/outage_locked"] is False and totals["finish_reason"] == "finished"
    assert "cascrawl/health/status" not in totals  # words are this worker's only
    assert totals["cascrawl/workers"] == {"w1": {"status": "finished", "stored": 10, "requests": 30},
                                          "w2": {"status": "interrupted", "stored": 5, "requests": 12},
                                          "w3": {"status": "running", "stored": 0, "requests": 0}}
    assert own["cascrawl/db/articles_upserted"] == 5  # the worker's own stats are left as they were
