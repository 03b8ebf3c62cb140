"""What each instance type gets on this host, before anything runs (`localbatch
instance-types`): the engine's own sizing (scaled down to the host) and its ledger (how
many fit side by side), so the table cannot disagree with what the scheduler does."""

from __future__ import annotations

from dataclasses import dataclass

from localbatch.engine.capacity import CapacityLedger, HostCapacity, Resources, size_instance
from localbatch.spec.instance_types import INSTANCE_TYPES

#: Where counting instances that fit at once stops (a tiny type on a big host).
AT_ONCE_LIMIT = 1000


@dataclass(frozen=True)
class TypeHere:
    """One row of the table: the type's size, what one instance gets here, how many at once."""

    name: str
    requested: Resources
    granted: Resources
    at_once: int

    @property
    def scaled_down(self) -> bool:
        return self.granted != self.requested


@dataclass(frozen=True)
class SizesHere:
    """This host's budget and every known instance type on it, in the table's order."""

    host: Resources
    types: tuple[TypeHere, ...]


def at_once(host: HostCapacity, need: Resources) -> int:
    """How many instances of this size the scheduler's ledger lets run side by side."""
    ledger = CapacityLedger(host)
    while ledger.running < AT_ONCE_LIMIT and ledger.fits(need):
        ledger.take(need)
    return ledger.running


def sizes_here(host: HostCapacity | None = None) -> SizesHere:
    """Every instance type as this host (detected unless given) would run it."""
    host = host or HostCapacity.detect()
    types = []
    for name in INSTANCE_TYPES:
        sizing = size_instance(name, host)
        types.append(
            TypeHere(name, sizing.requested, sizing.granted, at_once(host, sizing.granted))
        )
    return SizesHere(Resources(host.cpu_cores, host.memory_bytes), tuple(types))
