"""How many instances this host can run at once: cores and memory against instance type sizes.

The service gives every instance its own VM of the task's instance type. One machine can
only run as many at once as its cores and memory hold. The rules (docs/running.md,
"Scheduling and capacity"):

- memory is never oversubscribed: the memory limits of the running instances add up to at
  most the host's total memory;
- cores likewise: the core counts of the running instances add up to at most the host's
  logical cores;
- `--max-parallel N` caps the number of running instances further;
- a type larger than the host is *scaled down* to the host's cores and memory, with a
  warning (a job written for cloud VMs still runs here, alone, instead of being refused).

Everything here is pure except `HostCapacity.detect`, which reads psutil once.
"""

from __future__ import annotations

from dataclasses import dataclass

from localbatch.config import DEFAULT_INSTANCE_TYPE
from localbatch.spec.instance_types import GIB, InstanceType, lookup, unknown_type_notice


@dataclass(frozen=True, order=True)
class Resources:
    """What one running instance holds while it runs."""

    cpu_cores: float
    memory_bytes: int

    def describe(self) -> str:
        """For notices and the dry run: cores and GiB as a user reads them."""
        return f"{self.cpu_cores:g} cores, {self.memory_bytes / GIB:g} GiB"


@dataclass(frozen=True)
class HostCapacity:
    """The whole budget instances share; `max_parallel` None means "cores and memory decide"."""

    cpu_cores: float
    memory_bytes: int
    max_parallel: int | None = None

    @classmethod
    def detect(cls, max_parallel: int | None = None) -> HostCapacity:
        """This machine's logical cores and total memory (the one read of the host)."""
        import psutil

        return cls(
            cpu_cores=float(psutil.cpu_count(logical=True) or 1),
            memory_bytes=int(psutil.virtual_memory().total),
            max_parallel=max_parallel,
        )

    @classmethod
    def unlimited(cls, max_parallel: int | None = None) -> HostCapacity:
        """For fake runtimes and benchmarks: only `max_parallel` bounds concurrency."""
        return cls(cpu_cores=float("inf"), memory_bytes=2**62, max_parallel=max_parallel)


@dataclass(frozen=True)
class Sizing:
    """An instance type as this host will run it, and the warning when it had to shrink."""

    instance_type: str
    requested: Resources
    granted: Resources
    warning: str = ""


def size_instance(type_name: str, host: HostCapacity) -> Sizing:
    """The resources one instance of `type_name` gets here (scaled down to fit the host)."""
    known: InstanceType | None = lookup(type_name)
    notes = []
    if known is None:
        fallback = lookup(DEFAULT_INSTANCE_TYPE)
        assert fallback is not None
        notes.append(unknown_type_notice(type_name, fallback))
        known = fallback
    requested = Resources(float(known.cpu_cores), known.memory_bytes)
    granted = Resources(
        min(requested.cpu_cores, host.cpu_cores), min(requested.memory_bytes, host.memory_bytes)
    )
    if granted != requested:
        notes.append(
            f"instance type {type_name} ({requested.describe()}) is larger than this host "
            f"({Resources(host.cpu_cores, host.memory_bytes).describe()}): scaled down to "
            f"{granted.describe()}"
        )
    return Sizing(type_name, requested, granted, "; ".join(notes))


class CapacityLedger:
    """What is in use right now; the scheduler asks it before every launch."""

    def __init__(self, host: HostCapacity) -> None:
        self.host = host
        self.cpu_in_use = 0.0
        self.memory_in_use = 0
        self.running = 0

    @property
    def _at_max_parallel(self) -> bool:
        return self.host.max_parallel is not None and self.running >= self.host.max_parallel

    def fits(self, need: Resources) -> bool:
        """Whether an instance of this size may start now, next to those running."""
        if self._at_max_parallel:
            return False
        # An idle host always admits one instance, so a scaled-down type still runs.
        if self.running == 0:
            return True
        return (
            self.cpu_in_use + need.cpu_cores <= self.host.cpu_cores + 1e-9
            and self.memory_in_use + need.memory_bytes <= self.host.memory_bytes
        )

    @property
    def full(self) -> bool:
        """No further instance of any size can start now."""
        if self._at_max_parallel:
            return True
        return self.running > 0 and (
            self.cpu_in_use >= self.host.cpu_cores or self.memory_in_use >= self.host.memory_bytes
        )

    def take(self, need: Resources) -> None:
        """Hold an instance's resources from its launch until its attempt returns."""
        self.cpu_in_use += need.cpu_cores
        self.memory_in_use += need.memory_bytes
        self.running += 1

    def give(self, need: Resources) -> None:
        """Give them back when the attempt returned; clamped at zero against float rounding."""
        self.cpu_in_use = max(0.0, self.cpu_in_use - need.cpu_cores)
        self.memory_in_use = max(0, self.memory_in_use - need.memory_bytes)
        self.running = max(0, self.running - 1)
