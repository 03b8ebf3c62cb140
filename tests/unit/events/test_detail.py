"""The typed event detail lists an attempt with exactly the fields of its snapshot."""

from __future__ import annotations

from dataclasses import fields

from localbatch.events import AttemptDetail, AttemptSnapshot
from localbatch.states import State


def test_an_attempts_detail_has_the_snapshots_fields() -> None:
    assert set(AttemptDetail.__annotations__) == {f.name for f in fields(AttemptSnapshot)}
    detail = AttemptSnapshot(
        2, State.FAILED, 1.0, 2.0, 3, "Timeout", "late", "c-1", 0, 5, 0.5, 0.25
    )
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
        "launch_time": 0.5,
        "capacity_wait_start": 0.25,
    }
