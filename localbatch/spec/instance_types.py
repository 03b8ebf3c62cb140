"""The instance type table: how many cores and how much memory an instance may use.

From the official CLI's built-in table (bcs.*) and the ECS catalogue for the ecs.* types the
examples use (semantics.md, "Instance types").
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class InstanceType:
    name: str
    cpu_cores: int
    memory_gib: int

    @property
    def memory_bytes(self) -> int:
        return self.memory_gib * GIB


INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        InstanceType("bcs.a2.large", 4, 8),
        InstanceType("bcs.a2.xlarge", 8, 16),
        InstanceType("bcs.a2.3xlarge", 16, 32),
        InstanceType("bcs.a2.4xlarge", 20, 40),
        InstanceType("bcs.b2.3xlarge", 16, 32),
        InstanceType("bcs.b4.xlarge", 8, 32),
        InstanceType("bcs.b4.3xlarge", 16, 64),
        InstanceType("bcs.b4.4xlarge", 20, 80),
        InstanceType("bcs.b4.5xlarge", 24, 96),
        InstanceType("ecs.sn1.medium", 2, 4),
        InstanceType("ecs.sn1.large", 4, 8),
        InstanceType("ecs.sn1ne.large", 2, 4),
        InstanceType("ecs.sn1ne.xlarge", 4, 8),
        InstanceType("ecs.sn2ne.large", 2, 8),
    )
}


def lookup(name: str) -> InstanceType | None:
    return INSTANCE_TYPES.get(name)


def nearest(name: str, count: int = 3) -> list[str]:
    """The known types whose names look most like `name`, best first (for typos)."""
    import difflib

    return difflib.get_close_matches(name, list(INSTANCE_TYPES), count, 0.6)


def unknown_type_notice(name: str, fallback: InstanceType) -> str:
    """What plan and the engine both say about a type the table lacks (one wording)."""
    near = nearest(name)
    names = f" (nearest: {', '.join(near)})" if near else ""
    return (
        f"instance type {name!r} is not in the instance type table{names}; sized as "
        f"{fallback.name} ({fallback.cpu_cores} cores, {fallback.memory_gib} GiB)"
    )
