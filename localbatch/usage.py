"""What one attempt used of its machine: peak memory, CPU seconds, and whether its limits
bit (killed for memory, held back by its CPU quota).

Measured by the runtime that ran the attempt (`localbatch.runtime.usage`), carried by the
attempt's outcome and snapshot, kept in the store's attempt row and shown by `status
--json` and the run report. A figure that could not be measured is None, and `note` says
why: a runtime that measures nothing says so instead of reporting zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

#: `source` of an attempt whose runtime measured nothing.
NOT_MEASURED = ""


@dataclass(frozen=True)
class ResourceUsage:
    """One attempt's use of memory and CPU, and the limits it ran with here."""

    #: Where the figures come from: "cgroup v1", "cgroup v2", "process tree (psutil)", or
    #: "" (NOT_MEASURED).
    source: str = NOT_MEASURED
    #: The attempt's peak memory: on Docker its largest working set sampled (page cache
    #: left out, as `docker stats`), on the process runtime the kernel's high-water mark
    #: (page cache it caused included), from a process tree the largest resident sum.
    peak_memory_bytes: int | None = None
    cpu_seconds: float | None = None
    #: A process of the attempt was killed for going over the memory limit.
    oom_killed: bool | None = None
    #: Time its CPU quota held it back (CFS throttling); None where no quota counter exists.
    throttled_seconds: float | None = None
    #: The limits the attempt ran with on this host (the instance type, scaled to the host).
    memory_limit_bytes: int | None = None
    cpu_limit_cores: float | None = None
    #: What could not be measured, or measured only approximately, and why.
    note: str = ""

    @property
    def measured(self) -> bool:
        return self.source != NOT_MEASURED

    @property
    def throttled(self) -> bool | None:
        """Whether the CPU quota held it back at all; None where that cannot be known."""
        return None if self.throttled_seconds is None else self.throttled_seconds > 0


def not_measured(reason: str) -> ResourceUsage:
    """No figures, and why (a runtime without a probe, an attempt that never started)."""
    return ResourceUsage(note=reason)
