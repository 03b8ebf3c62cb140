"""What each instance type gets on a given host: the engine's sizing and its ledger."""

from __future__ import annotations

from localbatch.application.instance_types import AT_ONCE_LIMIT, at_once, sizes_here
from localbatch.engine.capacity import HostCapacity, Resources
from localbatch.spec.instance_types import GIB, INSTANCE_TYPES

HOST = HostCapacity(cpu_cores=4.0, memory_bytes=16 * GIB)


def test_every_type_in_the_table_order_with_the_host_budget() -> None:
    sizes = sizes_here(HOST)
    assert sizes.host == Resources(4.0, 16 * GIB)
    assert [row.name for row in sizes.types] == list(INSTANCE_TYPES)


def test_a_type_larger_than_the_host_is_scaled_down_and_runs_alone() -> None:
    rows = {row.name: row for row in sizes_here(HOST).types}
    large = rows["bcs.b4.xlarge"]
    assert large.requested == Resources(8.0, 32 * GIB)
    assert large.granted == Resources(4.0, 16 * GIB) and large.scaled_down
    assert large.at_once == 1
    small = rows["ecs.sn1.medium"]
    assert small.granted == small.requested and not small.scaled_down
    assert small.at_once == 2  # 2 cores each on 4 cores
    assert rows["ecs.sn2ne.large"].at_once == 2  # 8 GiB each on 16 GiB: memory decides


def test_at_once_honours_max_parallel_and_stops_at_its_limit() -> None:
    tiny = Resources(0.001, 1)
    assert at_once(HostCapacity(4.0, 16 * GIB, max_parallel=3), tiny) == 3
    assert at_once(HOST, tiny) == AT_ONCE_LIMIT
