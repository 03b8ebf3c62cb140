"""Instance sizes against the host: scale-down with a warning, and the admission ledger."""

from __future__ import annotations

from localbatch.engine.capacity import (
    CapacityLedger,
    HostCapacity,
    Resources,
    concurrency,
    size_instance,
)
from localbatch.spec.instance_types import GIB

HOST = HostCapacity(cpu_cores=8, memory_bytes=16 * GIB)


def test_a_type_that_fits_is_granted_as_it_is() -> None:
    sizing = size_instance("ecs.sn1.medium", HOST)
    assert sizing.granted == sizing.requested == Resources(2.0, 4 * GIB)
    assert sizing.warning == ""


def test_a_type_larger_than_the_host_is_scaled_down_with_a_warning() -> None:
    sizing = size_instance("bcs.b4.5xlarge", HOST)
    assert sizing.requested == Resources(24.0, 96 * GIB)
    assert sizing.granted == Resources(8.0, 16 * GIB)
    assert "larger than this host" in sizing.warning and "scaled down" in sizing.warning


def test_an_unknown_type_is_sized_as_the_default_and_said() -> None:
    sizing = size_instance("ecs.nope.huge", HOST)
    assert sizing.granted == Resources(2.0, 4 * GIB)
    assert "not in the instance type table" in sizing.warning


def test_memory_and_cores_bound_admission() -> None:
    ledger = CapacityLedger(HOST)
    half = Resources(2.0, 8 * GIB)
    assert ledger.fits(half)
    ledger.take(half)
    ledger.take(half)
    assert not ledger.fits(Resources(1.0, 1))  # memory is full
    assert ledger.full
    ledger.give(half)
    assert ledger.fits(half) and not ledger.full
    ledger.take(Resources(6.0, 1 * GIB))
    assert not ledger.fits(Resources(1.0, 1 * GIB))  # cores are full


def test_an_idle_host_admits_one_instance_of_any_size() -> None:
    ledger = CapacityLedger(HOST)
    assert ledger.fits(Resources(64.0, 1024 * GIB))


def test_max_parallel_caps_the_count() -> None:
    ledger = CapacityLedger(HostCapacity.unlimited(max_parallel=2))
    tiny = Resources(0.1, 1)
    ledger.take(tiny)
    assert ledger.fits(tiny)
    ledger.take(tiny)
    assert not ledger.fits(tiny) and ledger.full


def test_detect_reads_this_host() -> None:
    host = HostCapacity.detect(max_parallel=3)
    assert host.cpu_cores >= 1 and host.memory_bytes > 0 and host.max_parallel == 3


def test_oversubscribe_admits_any_size_up_to_its_parallel_limit() -> None:
    host = HostCapacity(cpu_cores=2, memory_bytes=4 * GIB, oversubscribe=True)
    assert host.parallel_limit == 4  # twice the cores, at least 4
    assert HostCapacity(cpu_cores=8, memory_bytes=GIB, oversubscribe=True).parallel_limit == 16
    ledger = CapacityLedger(host)
    big = Resources(2.0, 4 * GIB)
    for _ in range(4):
        assert ledger.fits(big) and not ledger.full
        ledger.take(big)
    assert not ledger.fits(big) and ledger.full
    assert "twice this host's cores" in ledger.why_held(big)


def test_why_held_names_the_resource_in_use() -> None:
    ledger = CapacityLedger(HostCapacity(cpu_cores=4, memory_bytes=8 * GIB))
    ledger.take(Resources(3.0, 2 * GIB))
    assert ledger.why_held(Resources(2.0, GIB)) == "needs 2 cores, 3 of this host's 4 in use"
    ledger.take(Resources(1.0, 5 * GIB))
    assert ledger.why_held(Resources(0.0, 2 * GIB)) == (
        "needs 2 GiB of memory, 7 of this host's 8 GiB in use"
    )


def test_concurrency_says_how_many_at_once_and_why() -> None:
    two_cores = HostCapacity(cpu_cores=2, memory_bytes=16 * GIB)
    medium = size_instance("ecs.sn1.medium", two_cores)
    assert concurrency(medium, two_cores).describe() == (
        "1 at a time: ecs.sn1.medium needs 2 cores, this host has 2"
    )
    small_memory = HostCapacity(cpu_cores=64, memory_bytes=10 * GIB)
    assert concurrency(medium, small_memory).describe() == (
        "2 at a time: ecs.sn1.medium needs 4 GiB of memory, this host has 10 GiB"
    )
    capped = HostCapacity(cpu_cores=64, memory_bytes=64 * GIB, max_parallel=3)
    assert concurrency(medium, capped).describe() == "3 at a time: --max-parallel 3"
    huge = size_instance("bcs.b4.5xlarge", two_cores)
    assert concurrency(huge, two_cores).describe() == (
        "1 at a time: bcs.b4.5xlarge needs 24 cores (scaled down to this host), this host has 2"
    )


def test_concurrency_when_oversubscribing() -> None:
    host = HostCapacity(cpu_cores=2, memory_bytes=16 * GIB, oversubscribe=True)
    medium = size_instance("ecs.sn1.medium", host)
    assert concurrency(medium, host).describe() == (
        "4 at a time: --oversubscribe up to 4 (twice this host's cores, at least 4); "
        "each in its own 2 cores, 4 GiB"
    )
    capped = HostCapacity(cpu_cores=2, memory_bytes=16 * GIB, max_parallel=3, oversubscribe=True)
    assert concurrency(medium, capped).at_once == 3
