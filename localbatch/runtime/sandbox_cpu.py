"""CPU limits for sandboxed processes: pinning to as many cores as the instance type has.

A sandboxed program gets `ceil(cores)` of the host's CPUs through its affinity mask (set
before it runs, inherited by its children), the least used ones first so concurrent
instances spread over the host. It needs no privilege and costs one system call; unlike
Docker's CPU quota it counts whole cores, and a program may widen its own mask again.
"""

from __future__ import annotations

import math
import os
import threading


class CoreAllocator:
    """Hands out the least busy host CPUs and takes them back when an attempt ends."""

    description = "CPU affinity (whole cores)"

    def __init__(self, cores: set[int] | None = None) -> None:
        available = cores if cores is not None else os.sched_getaffinity(0)
        self._load = dict.fromkeys(sorted(available), 0)
        self._lock = threading.Lock()

    @property
    def host_cores(self) -> int:
        return len(self._load)

    def take(self, cpu_cores: float) -> frozenset[int] | None:
        """The CPUs an attempt may use; None when it may use them all (no pinning needed)."""
        count = math.ceil(cpu_cores)
        if cpu_cores <= 0 or count >= len(self._load):
            return None
        with self._lock:
            chosen = sorted(self._load, key=lambda core: (self._load[core], core))[:count]
            for core in chosen:
                self._load[core] += 1
        return frozenset(chosen)

    def give_back(self, cores: frozenset[int] | None) -> None:
        if cores is None:
            return
        with self._lock:
            for core in cores:
                self._load[core] -= 1

    @staticmethod
    def pin(pid: int, cores: frozenset[int]) -> None:
        os.sched_setaffinity(pid, cores)
