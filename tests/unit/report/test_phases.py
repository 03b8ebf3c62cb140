"""Where an attempt's time went, from the moments the engine recorded: waits for upstream
tasks, for a retry and for capacity (with its reason), preparation, the run."""

from __future__ import annotations

from dataclasses import replace

from localbatch.report.phases import Phase, Span, attempt_spans, program_started, run_beginnings
from localbatch.states import State
from localbatch.store.records import AttemptRecord

WHY = "needs 2 cores, 2 of this host's 2 in use"


def _attempt(attempt: int = 0, **fields: object) -> AttemptRecord:
    values: dict[str, object] = {
        "job_id": "job-1", "task_name": "count", "instance_id": 0, "run": 0,
        "attempt": attempt, "state": State.FINISHED, "start_time": 8.0, "end_time": 10.0,
        "exit_code": 0, "error_code": "", "error_message": "", "ref": "c-1",
        "launch_time": 5.0,
    }  # fmt: skip
    values.update(fields)
    return AttemptRecord(**values)  # type: ignore[arg-type]


def test_upstream_capacity_preparation_and_run_are_told_apart() -> None:
    attempt = _attempt(capacity_wait_start=2.0, capacity_wait_reason=WHY)
    assert attempt_spans(attempt, None, 0.5, ("prepare",)) == (
        Span(Phase.UPSTREAM, 0.5, 2.0, "prepare"),
        Span(Phase.CAPACITY, 2.0, 5.0, WHY),
        Span(Phase.PREPARING, 5.0, 8.0),
        Span(Phase.RUNNING, 8.0, 10.0),
    )


def test_an_instance_launched_when_ready_waited_for_nothing_but_its_upstream() -> None:
    spans = attempt_spans(_attempt(), None, 1.0, ("prepare",))
    assert [s.phase for s in spans] == [Phase.UPSTREAM, Phase.PREPARING, Phase.RUNNING]
    assert spans[0] == Span(Phase.UPSTREAM, 1.0, 5.0, "prepare")
    # A first task has no upstream wait, whatever the run's first launch.
    assert [s.phase for s in attempt_spans(_attempt(), None, 1.0, ())] == [
        Phase.PREPARING,
        Phase.RUNNING,
    ]


def test_a_retry_waits_from_the_failed_attempts_end() -> None:
    failed = _attempt(state=State.FAILED, exit_code=1, end_time=10.0)
    retry = _attempt(1, launch_time=13.0, capacity_wait_start=11.0, capacity_wait_reason=WHY,
                     start_time=14.0, end_time=15.0)  # fmt: skip
    assert attempt_spans(retry, failed, 0.0, ("prepare",)) == (
        Span(Phase.RETRY, 10.0, 11.0),
        Span(Phase.CAPACITY, 11.0, 13.0, WHY),
        Span(Phase.PREPARING, 13.0, 14.0),
        Span(Phase.RUNNING, 14.0, 15.0),
    )


def test_an_attempt_whose_program_never_started_was_preparing_until_its_end() -> None:
    # The engine records its launch as its start; the runtime never gave it a reference.
    never = _attempt(state=State.FAILED, ref="", start_time=5.0, end_time=7.5,
                     exit_code=None, error_code="ImageNotFound")  # fmt: skip
    assert not program_started(never)
    assert attempt_spans(never, None, 5.0, ()) == (Span(Phase.PREPARING, 5.0, 7.5),)
    still = replace(never, state=State.WAITING, end_time=None)
    assert attempt_spans(still, None, 5.0, ()) == (Span(Phase.PREPARING, 5.0, None),)
    assert program_started(replace(never, state=State.RUNNING))


def test_an_attempt_recorded_before_launch_times_shows_its_run_alone() -> None:
    old = _attempt(launch_time=None, capacity_wait_start=None)
    assert attempt_spans(old, None, None, ("prepare",)) == (Span(Phase.RUNNING, 8.0, 10.0),)


def test_each_run_begins_at_its_first_launch() -> None:
    attempts = [
        _attempt(launch_time=3.0),
        _attempt(launch_time=2.0, instance_id=1),
        _attempt(run=1, launch_time=50.0),
        _attempt(run=2, launch_time=None),
    ]
    assert run_beginnings(attempts) == {0: 2.0, 1: 50.0}
