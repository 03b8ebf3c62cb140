"""Measuring what an attempt uses while it runs: the probe each runtime gives `run_attempt`.

A runtime that can measure implements `MeasuresUsage`: `usage_probe(handle, spec)` answers
a `UsageProbe`, which `run_attempt` samples every `interval` seconds while the attempt runs
and `finish`es once it ended, before the runtime releases it (a cgroup is still there to
read then, where the runtime keeps it). A runtime without it reports "not measured".

Two probes cover the runtimes of this host: `CgroupProbe` reads a cgroup's own counters
(the kernel's memory high-water mark, CPU time, time throttled, out-of-memory kills), so a
short spike between two samples still counts, or, asked for the working set, the largest
memory in use less the inactive file cache seen at a sample (what `docker stats` shows);
`ProcessTreeProbe` adds up a process tree with psutil where no cgroup is reachable, and
says that it is an approximation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import psutil

from localbatch.runtime.cgroups import CgroupDirs, Counters, read_counters
from localbatch.usage import ResourceUsage

#: Seconds between two readings of a cgroup's counters (a few small files).
CGROUP_INTERVAL = 0.2
#: Seconds between two walks of a process tree (heavier: every process's /proc files).
TREE_INTERVAL = 1.0
ENDED_TOO_SOON = (
    "the attempt ended before its first reading (within a fraction of a second), "
    "and its cgroup with it"
)
TREE_NOTE = (
    "measured over the process tree with psutil once a second (no cgroup of the attempt "
    "is reachable here): peak memory is the largest sum of resident memory seen, CPU time "
    "that of the processes seen; a spike between two samples can be missed"
)


class UsageProbe(Protocol):
    """Readings of one running attempt."""

    #: Seconds between two `sample` calls.
    interval: float

    def sample(self) -> None:
        """Take one reading now (cheap; never raises for a process that ended)."""

    def finish(self, oom_killed: bool) -> ResourceUsage:
        """The attempt's figures once it ended; `oom_killed` is what its outcome says."""


@runtime_checkable
class MeasuresUsage(Protocol):
    """A runtime that measures what its attempts use."""

    def usage_probe(self, handle: object, memory_limit: int, cpu_cores: float) -> UsageProbe:
        """A probe on the started attempt behind `handle`."""


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class CgroupProbe:
    """The counters of the attempt's cgroup, read at each sample and once more at the end
    while `final` can still reach them (None: the cgroup goes with the attempt)."""

    cgroup: CgroupDirs
    memory_limit: int
    cpu_cores: float
    #: Whether the cgroup is still there after the attempt ended (the process runtime's).
    outlives_attempt: bool
    #: What the figures leave out, said in the report (Docker's last fraction of a second).
    note: str = ""
    #: Where CPU time comes from when the cgroup has no CPU accounting.
    tree: ProcessTreeProbe | None = None
    #: Peak memory as the largest working set sampled (`Counters.working_set_bytes`), page
    #: cache left out, instead of the kernel's high-water mark, which counts it.
    working_set: bool = False
    interval: float = CGROUP_INTERVAL
    _last: Counters = field(default_factory=Counters)
    _peak: int | None = None
    _readings: int = 0

    def sample(self) -> None:
        if self.tree is not None:
            self.tree.sample()
        reading = read_counters(self.cgroup)
        if reading.cpu_seconds is None and reading.memory_bytes is None:
            return  # the cgroup is gone: keep the last reading
        self._last = reading
        self._readings += 1
        if self.working_set:
            self._peak = _max(self._peak, reading.working_set_bytes)
        else:
            self._peak = _max(self._peak, _max(reading.peak_memory_bytes, reading.memory_bytes))

    def finish(self, oom_killed: bool) -> ResourceUsage:
        if self.outlives_attempt:
            self.sample()
        if not self._readings:
            return ResourceUsage(oom_killed=oom_killed or None, note=ENDED_TOO_SOON)
        last = self._last
        cpu_seconds = last.cpu_seconds
        if cpu_seconds is None and self.tree is not None:
            cpu_seconds = self.tree.finish(oom_killed).cpu_seconds
        oom_killed = oom_killed or bool(last.oom_kills)
        peak = self._peak
        if oom_killed and self.memory_limit:
            # Killed at its limit: it reached it, whether or not a reading saw that.
            peak = max(peak or 0, self.memory_limit)
        return ResourceUsage(
            source=self.cgroup.source,
            peak_memory_bytes=peak,
            cpu_seconds=cpu_seconds,
            oom_killed=oom_killed,
            throttled_seconds=last.throttled_seconds,
            memory_limit_bytes=self.memory_limit or None,
            cpu_limit_cores=self.cpu_cores,
            note=self.note,
        )


@dataclass
class ProcessTreeProbe:
    """Resident memory and CPU time of a process and its descendants, with psutil."""

    root_pid: int
    memory_limit: int
    cpu_cores: float
    #: Why no cpu quota counter exists here (the runtime's words), added to the note.
    cpu_note: str = ""
    interval: float = TREE_INTERVAL
    #: CPU seconds seen per process (pid, start time), so ended ones still count.
    _cpu: dict[tuple[int, float], float] = field(default_factory=dict)
    _peak: int = 0
    _samples: int = 0

    def sample(self) -> None:
        try:
            root = psutil.Process(self.root_pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        resident = 0
        for process in processes:
            with contextlib.suppress(psutil.Error), process.oneshot():
                times = process.cpu_times()
                self._cpu[(process.pid, process.create_time())] = times.user + times.system
                resident += process.memory_info().rss
        self._peak = max(self._peak, resident)
        self._samples += 1

    def finish(self, oom_killed: bool) -> ResourceUsage:
        measured = self._samples > 0
        note = TREE_NOTE + (f"; {self.cpu_note}" if self.cpu_note else "")
        return ResourceUsage(
            source="process tree (psutil)",
            peak_memory_bytes=self._peak if measured else None,
            cpu_seconds=sum(self._cpu.values()) if measured else None,
            oom_killed=oom_killed,
            throttled_seconds=None,
            memory_limit_bytes=self.memory_limit or None,
            cpu_limit_cores=self.cpu_cores,
            note=note,
        )


@dataclass
class Unmeasured:
    """A probe that measures nothing and says why (a remote engine's containers)."""

    reason: str
    interval: float = 3600.0

    def sample(self) -> None:
        """Nothing to read."""

    def finish(self, oom_killed: bool) -> ResourceUsage:
        return ResourceUsage(oom_killed=oom_killed or None, note=self.reason)


def sample_until(probe: UsageProbe, clock: Callable[[], float]) -> Callable[[], float]:
    """A function that samples `probe` when its interval has passed and answers the seconds
    until the next sample is due (what `run_attempt` may wait at most meanwhile)."""
    due = clock()

    def tick() -> float:
        nonlocal due
        now = clock()
        if now >= due:
            probe.sample()
            due = now + probe.interval
        return max(0.0, due - now)

    return tick
