"""Handing out host CPUs to sandboxes: least busy first, all of them means no pinning."""

from __future__ import annotations

from localbatch.runtime.sandbox_cpu import CoreAllocator


def test_instances_spread_over_the_least_busy_cores() -> None:
    cpus = CoreAllocator({0, 1, 2, 3})
    first = cpus.take(1)
    second = cpus.take(2)
    assert first == frozenset({0})
    assert second == frozenset({1, 2})
    assert cpus.take(1) == frozenset({3})
    cpus.give_back(second)
    assert cpus.take(1.5) == frozenset({1, 2})  # fractions round up to whole cores


def test_as_many_cores_as_the_host_means_no_pinning() -> None:
    cpus = CoreAllocator({0, 1})
    assert cpus.take(2) is None
    assert cpus.take(8) is None
    assert cpus.take(0) is None
    cpus.give_back(None)
    assert cpus.host_cores == 2
