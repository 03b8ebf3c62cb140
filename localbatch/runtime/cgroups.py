"""Where a process's cgroups are on this host, and what their counters say.

Both versions: cgroup v1 has one hierarchy per controller (memory, cpu and cpuacct may be
mounted apart or together), v2 one directory for all. `controller_dirs` answers, for a
process, the directory of each controller localbatch reads; `read_counters` reads the
kernel's own counters there: the memory high-water mark and use now (with the inactive file
cache in it, for the working set), CPU time, time throttled by the CPU quota and
out-of-memory kills.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The controllers whose counters localbatch reads.
MEMORY, CPU, CPUACCT = "memory", "cpu", "cpuacct"
WANTED = (MEMORY, CPU, CPUACCT)


@dataclass(frozen=True)
class CgroupDirs:
    """The directory of each controller of one cgroup (absent: not reachable here)."""

    version: int
    dirs: dict[str, Path]

    @property
    def source(self) -> str:
        return f"cgroup v{self.version}"


@dataclass(frozen=True)
class Counters:
    """One reading of a cgroup's counters; None where the file is missing."""

    peak_memory_bytes: int | None = None
    #: memory.current / memory.usage_in_bytes: the high-water mark where no peak file exists.
    memory_bytes: int | None = None
    #: The page cache of files not used lately, which the kernel drops first under pressure:
    #: `inactive_file` (v2) / `total_inactive_file` (v1) of memory.stat.
    inactive_file_bytes: int | None = None
    cpu_seconds: float | None = None
    throttled_seconds: float | None = None
    oom_kills: int | None = None

    @property
    def working_set_bytes(self) -> int | None:
        """Memory in use less the inactive file cache, as `docker stats` counts it (the
        cache stays in use when it is not smaller than the use, as there)."""
        used, cache = self.memory_bytes, self.inactive_file_bytes
        if used is None or cache is None or cache >= used:
            return used
        return used - cache


def mounts(text: str) -> dict[str, tuple[int, Path]]:
    """Controller -> (version, mount point) from /proc/self/mounts; v2 as controller ""."""
    found: dict[str, tuple[int, Path]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        kind, where, options = fields[2], Path(fields[1]), fields[3].split(",")
        if kind == "cgroup2":
            found.setdefault("", (2, where))
        elif kind == "cgroup":
            for controller in WANTED:
                if controller in options:
                    found.setdefault(controller, (1, where))
    return found


def membership(text: str) -> dict[str, str]:
    """Controller -> path from a /proc/<pid>/cgroup text; the v2 line as controller ""."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path.lstrip("/")
    return paths


def controller_dirs(mount_text: str, cgroup_text: str) -> CgroupDirs | None:
    """The dirs of a process's memory, cpu and cpuacct cgroups: v1 where a v1 hierarchy
    has the memory controller, else v2 where the unified one has it; None otherwise."""
    mounted = mounts(mount_text)
    member = membership(cgroup_text)
    if MEMORY in mounted and MEMORY in member:
        dirs = {
            controller: mounted[controller][1] / member[controller]
            for controller in WANTED
            if controller in mounted and controller in member
        }
        return CgroupDirs(1, {c: d for c, d in dirs.items() if d.is_dir()})
    if "" in mounted and "" in member:
        directory = mounted[""][1] / member[""]
        if (directory / "memory.current").exists():
            return CgroupDirs(2, dict.fromkeys(WANTED, directory))
    return None


def process_dirs(pid: int) -> CgroupDirs | None:
    """The cgroups of a running process of this host; None when it or they are not here."""
    try:
        mount_text = Path("/proc/self/mounts").read_text()
        cgroup_text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None
    return controller_dirs(mount_text, cgroup_text)


def _int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _keyed(path: Path) -> dict[str, int]:
    """A flat-keyed file ("key value" lines: cpu.stat, memory.events, memory.oom_control)."""
    values: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def _stat(memory: Path | None, key: str) -> int | None:
    return _keyed(memory / "memory.stat").get(key) if memory else None


def read_counters(cgroup: CgroupDirs) -> Counters:
    """The counters now (each file read once; a removed cgroup reads as all None)."""
    memory, cpu, cpuacct = (cgroup.dirs.get(c) for c in WANTED)
    if cgroup.version == 2:
        stat = _keyed(cpu / "cpu.stat") if cpu else {}
        usage, throttled = stat.get("usage_usec"), stat.get("throttled_usec")
        oom = _keyed(memory / "memory.events").get("oom_kill") if memory else None
        return Counters(
            peak_memory_bytes=_int(memory / "memory.peak") if memory else None,
            memory_bytes=_int(memory / "memory.current") if memory else None,
            inactive_file_bytes=_stat(memory, "inactive_file"),
            cpu_seconds=usage / 1e6 if usage is not None else None,
            throttled_seconds=throttled / 1e6 if throttled is not None else None,
            oom_kills=oom,
        )
    usage_ns = _int(cpuacct / "cpuacct.usage") if cpuacct else None
    throttled_ns = _keyed(cpu / "cpu.stat").get("throttled_time") if cpu else None
    return Counters(
        peak_memory_bytes=_int(memory / "memory.max_usage_in_bytes") if memory else None,
        memory_bytes=_int(memory / "memory.usage_in_bytes") if memory else None,
        inactive_file_bytes=_stat(memory, "total_inactive_file"),
        cpu_seconds=usage_ns / 1e9 if usage_ns is not None else None,
        throttled_seconds=throttled_ns / 1e9 if throttled_ns is not None else None,
        oom_kills=_keyed(memory / "memory.oom_control").get("oom_kill") if memory else None,
    )
