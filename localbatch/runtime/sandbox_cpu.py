"""CPU limits for sandboxed processes: a CFS quota in a cgroup where the host allows one,
else pinning to as many cores as the instance type has.

The quota (`CgroupCpu`, or `write_v2_quota` on cgroup v2) is Docker's way: `cores` worth of
CPU time per period, fractions allowed, and the kernel counts the time a program was held
back (throttled), which the run report shows. Without a writable cpu cgroup, a sandboxed
program gets `ceil(cores)` of the host's CPUs through its affinity mask (set before it
runs, inherited by its children), the least used ones first so concurrent instances spread
over the host. It needs no privilege and costs one system call; it counts whole cores, a
program may widen its own mask again, and nothing counts the time it wanted more.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from localbatch.runtime.cgroups import CPU, CPUACCT, membership, mounts
from localbatch.runtime.sandbox_memory import CgroupRemover, new_cgroup_name, remove_stale


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


#: The CFS period every quota is expressed in (the kernel's default).
CFS_PERIOD_US = 100_000


@dataclass(frozen=True)
class CpuScope:
    """One attempt's CPU cgroups: controller ("cpu", "cpuacct") -> directory."""

    dirs: dict[str, Path]


class CgroupCpu:
    """A CFS quota of `cores` per attempt, as Docker gives containers (fractions allowed,
    a program cannot widen it, time held back is counted): the cgroup v1 cpu controller,
    with the attempt's CPU time from cpuacct (the same directory when they are mounted
    together)."""

    def __init__(self, bases: dict[str, Path]) -> None:
        #: "cpu" (and "cpuacct" when mounted apart) -> where attempt cgroups are made.
        self.bases = bases
        self.remover = CgroupRemover()
        self.description = "cgroup v1 CPU quota"

    def create(self, cores: float) -> CpuScope:
        name = new_cgroup_name()
        dirs: dict[str, Path] = {}
        try:
            for controller, base in self.bases.items():
                directory = base / name
                if directory not in dirs.values():
                    directory.mkdir()
                dirs[controller] = directory
            quota = max(1000, int(cores * CFS_PERIOD_US))
            (dirs["cpu"] / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
        except OSError:
            self.remove(CpuScope(dirs))
            raise
        return CpuScope(dirs)

    def enter(self, scope: CpuScope, pid: int) -> None:
        for directory in set(scope.dirs.values()):
            (directory / "cgroup.procs").write_text(str(pid))

    def remove(self, scope: CpuScope) -> None:
        for directory in set(scope.dirs.values()):
            self.remover.remove(directory)

    def remove_stale(self) -> list[Path]:
        return [p for base in set(self.bases.values()) for p in remove_stale(base)]


def write_v2_quota(directory: Path, cores: float) -> None:
    """The same quota in a cgroup v2 directory (the attempt's memory cgroup)."""
    quota = max(1000, int(cores * CFS_PERIOD_US))
    (directory / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")


def v2_cpu_delegated(base: Path) -> bool:
    """Whether child cgroups of a v2 `base` get the cpu controller (cpu.max can be set)."""
    try:
        return "cpu" in (base / "cgroup.subtree_control").read_text().split()
    except OSError:
        return False


def detect_cpu_quota(mount_text: str, proc_cgroup: str) -> CgroupCpu | None:
    """A v1 CPU quota limiter when the cpu hierarchy is writable here; None otherwise (a
    v2 host puts the quota in the attempt's memory cgroup: `write_v2_quota`)."""
    mounted = mounts(mount_text)
    member = membership(proc_cgroup)
    if CPU not in mounted or mounted[CPU][0] != 1:
        return None
    bases: dict[str, Path] = {}
    for controller in (CPU, CPUACCT):
        if controller not in mounted:
            continue
        root = mounted[controller][1]
        own = root / member.get(controller, "")
        bases[controller] = own if own.is_dir() and os.access(own, os.W_OK) else root
    if not all(os.access(base, os.W_OK) for base in bases.values()):
        return None
    limiter = CgroupCpu(bases)
    try:
        limiter.remove(limiter.create(1))
    except OSError:
        return None
    return limiter
