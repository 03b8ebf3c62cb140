"""The typed event detail lists an attempt with exactly the fields of its snapshot."""

from __future__ import annotations

from dataclasses import fields

from localbatch.events import AttemptDetail, AttemptSnapshot, UsageDetail
from localbatch.states import State
from localbatch.usage import ResourceUsage


def test_an_attempts_detail_has_the_snapshots_fields() -> None:
    assert set(AttemptDetail.__annotations__) == {f.name for f in fields(AttemptSnapshot)}
    detail = AttemptSnapshot(
        2, State.FAILED, 1.0, 2.0, 3, "Timeout", "late", "c-1", 0, 5,
        launch_time=0.5, capacity_wait_start=0.25, capacity_wait_reason="needs 2 cores",
    )  # fmt: skip
    assert detail.as_detail() == {
        "attempt": 2,
        "state": State.FAILED,
        "start_time": 1.0,
        "end_time": 2.0,
        "exit_code": 3,
        "error_code": "Timeout",
        "error_message": "late",
        "ref": "c-1",
        "stdout_offset": 0,
        "stderr_offset": 5,
        "usage": None,
        "launch_time": 0.5,
        "capacity_wait_start": 0.25,
        "capacity_wait_reason": "needs 2 cores",
    }


def test_an_attempts_usage_is_listed_with_its_fields() -> None:
    assert set(UsageDetail.__annotations__) == {f.name for f in fields(ResourceUsage)}
    usage = ResourceUsage("cgroup v1", 100, 1.5, False, 0.0, 200, 2.0, "")
    detail = AttemptSnapshot(0, State.FINISHED, usage=usage).as_detail()
    assert detail["usage"] == {
        "source": "cgroup v1",
        "peak_memory_bytes": 100,
        "cpu_seconds": 1.5,
        "oom_killed": False,
        "throttled_seconds": 0.0,
        "memory_limit_bytes": 200,
        "cpu_limit_cores": 2.0,
        "note": "",
    }
