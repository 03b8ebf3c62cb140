"""Memory limits for sandboxed processes, with whatever this host allows.

Preference order, detected once: a cgroup v2 subtree with the memory controller, the
cgroup v1 memory controller (both hard limits with honest out-of-memory detection, swap
included), else RLIMIT_AS on the program (virtual address space: a rougher limit, and an
exhausted one shows up only as the program's own allocation error). The process runtime
puts the sandboxed program into the limit before it executes, so nothing escapes it.
"""

from __future__ import annotations

import logging
import os
import queue
import resource
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

CGROUP_MOUNT = Path("/sys/fs/cgroup")
#: How long a cgroup whose processes were just killed may stay busy before it is left.
REAP_SECONDS = 5.0
#: Every attempt's cgroup is named <PREFIX><owner pid>-<random>.
PREFIX = "localbatch-"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CgroupFiles:
    """The file names one cgroup version uses for a memory limit."""

    version: int
    limit: str
    swap_limit: str
    #: The file holding an `oom_kill N` line.
    events: str
    #: Value written to `swap_limit`: v2 counts swap alone, v1 memory plus swap.
    swap_is_total: bool


V1 = CgroupFiles(
    1, "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.oom_control", True
)
V2 = CgroupFiles(2, "memory.max", "memory.swap.max", "memory.events", False)


@dataclass(frozen=True)
class MemoryScope:
    """The limit of one attempt: a cgroup directory, or none when RLIMIT_AS is used."""

    limit: int
    cgroup: Path | None = None


class CgroupMemory:
    """Hard limits through one cgroup per attempt under `base`."""

    def __init__(self, base: Path, files: CgroupFiles) -> None:
        self.base = base
        self.files = files
        self.remover = CgroupRemover()
        self.description = f"cgroup v{files.version} memory controller"

    def create(self, limit: int) -> MemoryScope:
        directory = self.base / new_cgroup_name()
        directory.mkdir()
        try:
            (directory / self.files.limit).write_text(str(limit))
            swap = directory / self.files.swap_limit
            if swap.exists():
                swap.write_text(str(limit) if self.files.swap_is_total else "0")
        except OSError:
            directory.rmdir()
            raise
        return MemoryScope(limit, directory)

    def enter(self, scope: MemoryScope, pid: int) -> None:
        assert scope.cgroup is not None
        (scope.cgroup / "cgroup.procs").write_text(str(pid))

    def oom_killed(self, scope: MemoryScope) -> bool:
        assert scope.cgroup is not None
        try:
            text = (scope.cgroup / self.files.events).read_text()
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value) > 0
        return False

    def remove(self, scope: MemoryScope) -> None:
        """Remove the cgroup now if the kernel lets it go, else soon (without waiting)."""
        if scope.cgroup is not None:
            self.remover.remove(scope.cgroup)

    def remove_stale(self) -> list[Path]:
        """Remove the cgroups that localbatch processes which no longer run left behind."""
        return remove_stale(self.base)

    def wait_removed(self) -> None:
        """Block until every cgroup handed to the reaper is gone (or given up on)."""
        self.remover.wait_removed()


class CgroupRemover:
    """Removes attempt cgroups: now when the kernel lets them go, else from a reaper thread
    (a cgroup whose last process was just killed stays busy for a moment)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: queue.Queue[Path] | None = None

    def remove(self, directory: Path) -> None:
        try:
            directory.rmdir()
        except FileNotFoundError:
            return
        except OSError:
            self._reaper().put(directory)

    def _reaper(self) -> queue.Queue[Path]:
        with self._lock:
            if self._pending is None:
                self._pending = queue.Queue()
                threading.Thread(
                    target=_reap, args=(self._pending,), name="cgroup-reaper", daemon=True
                ).start()
            return self._pending

    def wait_removed(self) -> None:
        """Block until every cgroup handed to the reaper is gone (or given up on)."""
        if self._pending is not None:
            self._pending.join()


def new_cgroup_name() -> str:
    """<PREFIX><this process's pid>-<random>: `remove_stale` tells whose it was."""
    return f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"


def remove_stale(base: Path) -> list[Path]:
    """Remove the attempt cgroups under `base` whose localbatch process no longer runs."""
    removed = []
    for directory in base.glob(f"{PREFIX}*"):
        owner = directory.name.removeprefix(PREFIX).partition("-")[0]
        if owner.isdigit() and not _pid_alive(int(owner)):
            try:
                directory.rmdir()
            except OSError:
                continue
            removed.append(directory)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pending: queue.Queue[Path]) -> None:
    """Retry rmdir on cgroups whose last killed process the kernel has not released yet.

    cgroup v1 announces emptiness through a release agent only, so a short retry is the
    practical way; a cgroup still busy after REAP_SECONDS is left (and logged)."""
    while True:
        directory = pending.get()
        deadline = time.monotonic() + REAP_SECONDS
        while True:
            try:
                directory.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    log.warning("could not remove memory cgroup %s: %s", directory, exc)
                    break
                time.sleep(0.005)
        pending.task_done()


class RlimitMemory:
    """RLIMIT_AS on the sandboxed program, set from outside before it runs (prlimit)."""

    description = "RLIMIT_AS (no writable memory cgroup on this host)"

    def create(self, limit: int) -> MemoryScope:
        return MemoryScope(limit)

    def enter(self, scope: MemoryScope, pid: int) -> None:
        resource.prlimit(pid, resource.RLIMIT_AS, (scope.limit, scope.limit))

    def oom_killed(self, scope: MemoryScope) -> bool:
        return False

    def remove(self, scope: MemoryScope) -> None:
        """Nothing to free: the limit dies with the process."""

    def remove_stale(self) -> list[Path]:
        """Nothing is ever left behind."""
        return []

    def wait_removed(self) -> None:
        """Nothing is ever pending."""


MemoryLimiter = CgroupMemory | RlimitMemory


def _own_cgroup(version: int, proc_cgroup: str) -> str:
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        if (version == 2 and controllers == "") or (
            version == 1 and "memory" in controllers.split(",")
        ):
            return path.lstrip("/")
    return ""


def _probe(base: Path, files: CgroupFiles) -> CgroupMemory | None:
    """A limiter if a child cgroup with a memory limit can be made under `base`."""
    limiter = CgroupMemory(base, files)
    try:
        scope = limiter.create(64 * 2**20)
    except OSError:
        return None
    limiter.remove(scope)
    return limiter


def detect_memory_limiter(mount: Path = CGROUP_MOUNT) -> MemoryLimiter:
    """The best way this host offers to hold a process to a memory limit."""
    try:
        proc_cgroup = Path("/proc/self/cgroup").read_text()
    except OSError:
        proc_cgroup = ""
    candidates: list[tuple[Path, CgroupFiles]] = []
    if (mount / "cgroup.controllers").exists():
        # Under our own cgroup when it delegates memory; else (as root) under the root,
        # which may have processes and still enable controllers for its children.
        candidates.append((mount / _own_cgroup(2, proc_cgroup), V2))
        candidates.append((mount, V2))
    v1 = mount / "memory"
    if (v1 / V1.limit).exists():
        own = v1 / _own_cgroup(1, proc_cgroup)
        # Inside a container the mount often is the container's own cgroup already.
        candidates.append((own if own.is_dir() else v1, V1))
    for base, files in candidates:
        if os.access(base, os.W_OK):
            limiter = _probe(base, files)
            if limiter is not None:
                return limiter
    return RlimitMemory()
