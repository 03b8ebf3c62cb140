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
  warning (a job written for cloud VMs still runs here, alone, instead of being refused);
- `--oversubscribe` (config `[capacity] oversubscribe`) drops the cores and memory sums:
  instances start side by side whatever their sizes add up to, each still inside its own
  limits, up to `--max-parallel` (by default twice the host's cores, at least 4).

On a cluster runtime (docs/scale-out.md) the budget is the sum of its nodes', and an
instance keeps its type's exact size: the cluster places it on a node that holds it, and
a type no node holds is refused before anything starts (`Sizing.refusal`).

`concurrency` says how many instances of one task can run at once here and why;
`CapacityLedger.why_held` says why a ready instance cannot start now. Everything here is
pure except `HostCapacity.detect`, which reads psutil once.
"""

from __future__ import annotations

import math
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
        return f"{self.cpu_cores:g} cores, {_gib(self.memory_bytes)} GiB"


def _gib(size: int) -> str:
    """Bytes as GiB, to one decimal at most ("4", "23.4")."""
    return f"{round(size / GIB, 1):g}"


def oversubscribed_max_parallel(cpu_cores: float) -> int:
    """`--max-parallel` when oversubscribing without one: twice the host's cores, at least 4
    (enough for a few instances of a large type on a laptop, never an unbounded flood)."""
    return max(4, 2 * math.ceil(cpu_cores)) if math.isfinite(cpu_cores) else 4


@dataclass(frozen=True)
class HostCapacity:
    """The whole budget instances share; `max_parallel` None means "cores and memory decide".

    With `oversubscribe`, cores and memory do not bound how many run at once: only
    `parallel_limit` does (`max_parallel`, else `oversubscribed_max_parallel`)."""

    cpu_cores: float
    memory_bytes: int
    max_parallel: int | None = None
    oversubscribe: bool = False
    #: The nodes of a cluster runtime (empty: this one machine, which scales types down).
    nodes: tuple[Resources, ...] = ()
    #: What the budget is, for the user ("this host", "swarm of 2 nodes (...)").
    where: str = "this host"

    @classmethod
    def of_nodes(
        cls,
        nodes: tuple[Resources, ...],
        where: str,
        max_parallel: int | None = None,
        *,
        oversubscribe: bool = False,
    ) -> HostCapacity:
        """A cluster's budget: what its nodes hold together."""
        return cls(
            cpu_cores=sum(n.cpu_cores for n in nodes),
            memory_bytes=sum(n.memory_bytes for n in nodes),
            max_parallel=max_parallel,
            oversubscribe=oversubscribe,
            nodes=nodes,
            where=where,
        )

    def describe(self) -> str:
        """The budget as the plan and the live display show it."""
        cap = f"; at most {self.max_parallel} at once" if self.max_parallel else ""
        total = Resources(self.cpu_cores, self.memory_bytes).describe()
        over = "; oversubscribed" if self.oversubscribe else ""
        if self.nodes:
            return f"{self.where}; {total} in all{cap}{over}"
        return f"{self.where}: {total}{cap}{over}"

    @classmethod
    def detect(
        cls, max_parallel: int | None = None, *, oversubscribe: bool = False
    ) -> HostCapacity:
        """This machine's logical cores and total memory (the one read of the host)."""
        import psutil

        return cls(
            cpu_cores=float(psutil.cpu_count(logical=True) or 1),
            memory_bytes=int(psutil.virtual_memory().total),
            max_parallel=max_parallel,
            oversubscribe=oversubscribe,
        )

    @property
    def here(self) -> str:
        """What the budget belongs to, in a sentence: "this host" or "the cluster"."""
        return "the cluster" if self.nodes else "this host"

    @property
    def parallel_limit(self) -> int | None:
        """The most instances at once whatever their sizes; None when only sizes decide."""
        if self.max_parallel is None and self.oversubscribe:
            return oversubscribed_max_parallel(self.cpu_cores)
        return self.max_parallel

    @classmethod
    def unlimited(
        cls, max_parallel: int | None = None, *, oversubscribe: bool = False
    ) -> HostCapacity:
        """For fake runtimes and benchmarks: only `max_parallel` bounds concurrency."""
        return cls(float("inf"), 2**62, max_parallel=max_parallel, oversubscribe=oversubscribe)


@dataclass(frozen=True)
class Sizing:
    """An instance type as this host will run it, and the warning when it had to shrink."""

    instance_type: str
    requested: Resources
    granted: Resources
    warning: str = ""
    #: Why no node of a cluster can run it ("" when one can): the job is refused.
    refusal: str = ""


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
    if host.nodes:
        return _on_a_node(type_name, requested, host, notes)
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


def _on_a_node(
    type_name: str, requested: Resources, host: HostCapacity, notes: list[str]
) -> Sizing:
    """A cluster's sizing: exactly the type's, refused when no node holds it."""
    holds = any(
        node.cpu_cores + 1e-9 >= requested.cpu_cores and node.memory_bytes >= requested.memory_bytes
        for node in host.nodes
    )
    refusal = ""
    if not holds:
        refusal = (
            f"instance type {type_name} ({requested.describe()}) is larger than every node "
            f"of the {host.where}: no node can run it"
        )
    return Sizing(type_name, requested, requested, "; ".join(notes), refusal)


class CapacityLedger:
    """What is in use right now; the scheduler asks it before every launch."""

    def __init__(self, host: HostCapacity) -> None:
        self.host = host
        self.cpu_in_use = 0.0
        self.memory_in_use = 0
        self.running = 0

    @property
    def _at_max_parallel(self) -> bool:
        limit = self.host.parallel_limit
        return limit is not None and self.running >= limit

    def fits(self, need: Resources) -> bool:
        """Whether an instance of this size may start now, next to those running."""
        if self._at_max_parallel:
            return False
        # An idle host always admits one instance, so a scaled-down type still runs.
        if self.running == 0 or self.host.oversubscribe:
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
        return (
            self.running > 0
            and not self.host.oversubscribe
            and (
                self.cpu_in_use >= self.host.cpu_cores
                or self.memory_in_use >= self.host.memory_bytes
            )
        )

    def take(self, need: Resources) -> None:
        """Hold an instance's resources from its launch until its attempt returns."""
        self.cpu_in_use += need.cpu_cores
        self.memory_in_use += need.memory_bytes
        self.running += 1

    def why_held(self, need: Resources) -> str:
        """Why an instance of this size cannot start now (its wait for capacity, said)."""
        limit = self.host.parallel_limit
        if limit is not None and self.running >= limit:
            return f"{self.running} running, the most at once here ({_parallel_source(self.host)})"
        if self.cpu_in_use + need.cpu_cores > self.host.cpu_cores + 1e-9:
            return (
                f"needs {need.cpu_cores:g} cores, {self.cpu_in_use:g} of {self.host.here}'s "
                f"{self.host.cpu_cores:g} in use"
            )
        return (
            f"needs {_gib(need.memory_bytes)} GiB of memory, {_gib(self.memory_in_use)} of "
            f"{self.host.here}'s {_gib(self.host.memory_bytes)} GiB in use"
        )

    def give(self, need: Resources) -> None:
        """Give them back when the attempt returned; clamped at zero against float rounding."""
        self.cpu_in_use = max(0.0, self.cpu_in_use - need.cpu_cores)
        self.memory_in_use = max(0, self.memory_in_use - need.memory_bytes)
        self.running = max(0, self.running - 1)


def _parallel_source(host: HostCapacity) -> str:
    """Where the cap on instances at once comes from, as the user set it (or did not)."""
    if host.max_parallel is not None:
        return f"--max-parallel {host.max_parallel}"
    return f"--oversubscribe without --max-parallel: twice {host.here}'s cores, at least 4"


@dataclass(frozen=True)
class Concurrency:
    """How many instances of one task can run at once on this host (alone), and why."""

    at_once: int
    reason: str

    def describe(self) -> str:
        """ "1 at a time: ecs.sn1.medium needs 2 cores, this host has 2" """
        return f"{self.at_once} at a time: {self.reason}"


def concurrency(sizing: Sizing, host: HostCapacity) -> Concurrency:
    """How many instances of a type sized `sizing` fit here at once, when they run alone,
    and the limit that decides it (cores, memory, --max-parallel, --oversubscribe)."""
    limit = host.parallel_limit
    granted = sizing.granted
    if host.oversubscribe:
        assert limit is not None
        cap = (
            f"--max-parallel {limit}"
            if host.max_parallel is not None
            else f"{limit} (twice {host.here}'s cores, at least 4)"
        )
        return Concurrency(
            limit, f"--oversubscribe up to {cap}; each in its own {granted.describe()}"
        )
    by_cores = max(1, math.floor(host.cpu_cores / granted.cpu_cores + 1e-9))
    by_memory = max(1, host.memory_bytes // max(1, granted.memory_bytes))
    fits = min(by_cores, by_memory)
    if limit is not None and limit < fits:
        return Concurrency(limit, f"--max-parallel {limit}")
    scaled = " (scaled down to this host)" if granted != sizing.requested else ""
    if by_cores <= by_memory:
        reason = (
            f"{sizing.instance_type} needs {sizing.requested.cpu_cores:g} cores{scaled}, "
            f"{host.here} has {host.cpu_cores:g}"
        )
    else:
        reason = (
            f"{sizing.instance_type} needs {_gib(sizing.requested.memory_bytes)} GiB of "
            f"memory{scaled}, {host.here} has {_gib(host.memory_bytes)} GiB"
        )
    return Concurrency(fits, reason)
