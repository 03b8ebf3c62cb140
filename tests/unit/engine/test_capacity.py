"""Instance sizes against the host: scale-down with a warning, and the admission ledger."""

from __future__ import annotations

from localbatch.engine.capacity import CapacityLedger, HostCapacity, Resources, size_instance
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
