"""Every attempt the engine runs is recorded in the store with its own start and end time,
final state, exit code and error code: after retries, timeouts, failures to start, stops and
JobFailOnInstanceFail (issue 10: earlier attempts stayed Running forever)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localbatch.runtime.fake import SIGTERM_EXIT, FakeStep
from localbatch.spec.model import Job
from localbatch.states import State
from localbatch.store import Store
from localbatch.store.records import AttemptRecord

JobFactory = Callable[..., Job]
TaskFactory = Callable[..., dict[str, Any]]


class TickingClock:
    """Every reading is one second after the previous: no two recorded times are equal, so
    an attempt that carries another's time is seen."""

    def __init__(self) -> None:
        self._ticks = itertools.count(1_000_000)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return float(next(self._ticks))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "state")
    yield opened
    opened.close()


@pytest.fixture
def submit(harness: Any, store: Store) -> Callable[[Job], None]:
    """Submit the job with the store listening."""
    harness.engine.clock = TickingClock()
    harness.engine.bus.subscribe(store.on_event)

    def submit(job: Job) -> None:
        store.create_job("job-1", job, created=1.0)
        harness.engine.submit("job-1", job)

    return submit


def _final(harness: Any) -> State | None:
    final: State | None = harness.engine.wait("job-1", 30)
    return final


def _results(attempts: list[AttemptRecord]) -> list[tuple[int, State, int | None, str]]:
    return [(a.attempt, a.state, a.exit_code, a.error_code) for a in attempts]


def _own_times(store: Store, attempts: list[AttemptRecord], task: str = "a") -> None:
    """Each attempt ended after it started, and started once the one before ended; the
    instance ended with its last."""
    for attempt in attempts:
        assert attempt.start_time is not None and attempt.end_time is not None, attempt
        assert attempt.start_time < attempt.end_time, attempt
    for before, after in itertools.pairwise(attempts):
        assert before.end_time is not None and after.start_time is not None
        assert before.end_time <= after.start_time, (before, after)
    instance = store.get_instance("job-1", task, 0)
    assert instance is not None and instance.end_time == attempts[-1].end_time


def test_retries_close_every_earlier_attempt(
    harness: Any, submit: Callable[[Job], None], store: Store, job_factory: JobFactory,
    task_factory: TaskFactory,
) -> None:  # fmt: skip
    harness.runtime.script("a", FakeStep(exit_code=2), attempt=0)
    harness.runtime.script("a", FakeStep(None, "Timeout", "too slow"), attempt=1)
    submit(job_factory({"a": task_factory(MaxRetryCount=2)}))
    assert _final(harness) == State.FINISHED
    attempts = store.attempts("job-1", "a", 0)
    assert _results(attempts) == [
        (0, State.FAILED, 2, ""),
        (1, State.FAILED, None, "Timeout"),
        (2, State.FINISHED, 0, ""),
    ]
    assert attempts[1].error_message == "too slow"
    _own_times(store, attempts)


def test_a_real_timeout_and_its_retry_are_both_recorded_failed(
    harness: Any, submit: Callable[[Job], None], store: Store, job_factory: JobFactory,
    task_factory: TaskFactory,
) -> None:  # fmt: skip
    harness.runtime.script("a", FakeStep(hang=True))
    submit(job_factory({"a": task_factory(Timeout=1, MaxRetryCount=1)}))
    assert _final(harness) == State.FAILED
    attempts = store.attempts("job-1", "a", 0)
    assert _results(attempts) == [
        (0, State.FAILED, SIGTERM_EXIT, "Timeout"),
        (1, State.FAILED, SIGTERM_EXIT, "Timeout"),
    ]
    _own_times(store, attempts)


def test_an_attempt_that_never_started_is_recorded_with_its_error(
    harness: Any, submit: Callable[[Job], None], store: Store, job_factory: JobFactory,
    task_factory: TaskFactory,
) -> None:  # fmt: skip
    harness.fail_prepare(("a", 0, 0), "PackageError", "not a tar.gz")
    harness.runtime.script("a", FakeStep(None, "ImageNotFound", "no", fails_to_start=True))
    harness.runtime.script("a", FakeStep(exit_code=0), attempt=2)
    submit(job_factory({"a": task_factory(MaxRetryCount=2)}))
    assert _final(harness) == State.FINISHED
    attempts = store.attempts("job-1", "a", 0)
    assert _results(attempts) == [
        (0, State.FAILED, None, "PackageError"),
        (1, State.FAILED, None, "ImageNotFound"),
        (2, State.FINISHED, 0, ""),
    ]
    _own_times(store, attempts)


def test_a_stop_ends_the_running_attempt_stopped_after_a_failed_one(
    harness: Any, submit: Callable[[Job], None], store: Store, job_factory: JobFactory,
    task_factory: TaskFactory,
) -> None:  # fmt: skip
    harness.runtime.script("a", FakeStep(exit_code=1), attempt=0)
    harness.runtime.script("a", FakeStep(hang=True), attempt=1)
    submit(job_factory({"a": task_factory(MaxRetryCount=3)}))
    harness.log.wait_for(lambda e: e.name == "OnInstanceRunning" and e.attempt == 1)
    harness.engine.stop("job-1")
    assert _final(harness) == State.STOPPED
    attempts = store.attempts("job-1", "a", 0)
    assert _results(attempts) == [
        (0, State.FAILED, 1, ""),
        (1, State.STOPPED, SIGTERM_EXIT, "Stopped"),
    ]
    _own_times(store, attempts)


def test_job_fail_on_instance_fail_ends_the_other_attempts_stopped(
    harness: Any, submit: Callable[[Job], None], store: Store, job_factory: JobFactory,
    task_factory: TaskFactory,
) -> None:  # fmt: skip
    gate = threading.Event()
    harness.runtime.script("slow", FakeStep(hang=True))
    harness.runtime.script("bad", FakeStep(exit_code=1, gate=gate))
    submit(job_factory({"slow": task_factory(), "bad": task_factory()}))
    assert harness.runtime.wait_running(2)
    harness.log.wait_for(lambda e: e.name == "OnInstanceRunning" and e.task_name == "slow")
    harness.log.wait_for(lambda e: e.name == "OnInstanceRunning" and e.task_name == "bad")
    gate.set()
    assert _final(harness) == State.FAILED
    assert _results(store.attempts("job-1", "bad", 0)) == [(0, State.FAILED, 1, "")]
    slow = store.attempts("job-1", "slow", 0)
    assert _results(slow) == [(0, State.STOPPED, SIGTERM_EXIT, "Stopped")]
    _own_times(store, slow, "slow")


def test_each_attempt_records_where_its_output_begins(
    harness: Any, submit: Callable[[Job], None], store: Store, job_factory: JobFactory,
    task_factory: TaskFactory,
) -> None:  # fmt: skip
    # Every attempt appends to the instance's one stdout file (and stderr file).
    harness.runtime.script("a", FakeStep(exit_code=1, stdout="first try\n"), attempt=0)
    harness.runtime.script("a", FakeStep(exit_code=0, stdout="second\n"), attempt=1)
    submit(job_factory({"a": task_factory(MaxRetryCount=1)}))
    assert _final(harness) == State.FINISHED
    attempts = store.attempts("job-1", "a", 0)
    assert [(a.stdout_offset, a.stderr_offset) for a in attempts] == [(0, 0), (10, 0)]
    stdout = harness.storage.root / "stdout.a.0"
    assert stdout.read_bytes()[10:] == b"second\n"
