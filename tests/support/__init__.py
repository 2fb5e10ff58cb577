"""Helpers of the tests and the benchmark scripts (the fixture site, extraction scores, process memory): in the
repository only, never in the wheel."""
