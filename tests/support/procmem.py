"""Peak memory of a running process and its children, read from /proc (Linux): for the hostile-page test
and the crawl benchmark, which measure a `cascrawl crawl` they started.

Not wait4's or getrusage's ru_maxrss: Linux hands a vforked child the parent's high-water mark at exec,
so a crawl started from a large process (a long pytest session) would report that process's size."""

from __future__ import annotations

from pathlib import Path


def high_water_kb(pid: int) -> int | None:
    """The process's own peak RSS in kB (VmHWM, counted from its exec), or None once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None  # a zombie: its memory is gone


def children(pid: int) -> list[int]:
    try:
        return [int(value) for value in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class PeakMemory:
    """Sampled while a process runs (VmHWM only grows, so the last reading before it exits is its peak):
    `kb` is the sum of the peaks of the process and of each child seen (the extraction worker), an upper
    bound of the whole at any moment."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peaks: dict[int, int] = {}

    def sample(self) -> None:
        for pid in (self.pid, *children(self.pid)):
            self.peaks[pid] = max(self.peaks.get(pid, 0), high_water_kb(pid) or 0)

    @property
    def kb(self) -> int:
        return sum(self.peaks.values())

    @property
    def own_kb(self) -> int:
        return self.peaks.get(self.pid, 0)
