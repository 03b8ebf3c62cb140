"""The pure scheduler, fed inputs by hand: order, capacity, retries, failure rules, stop."""

from __future__ import annotations

import pytest

from localbatch.engine.capacity import HostCapacity, Resources
from localbatch.engine.scheduler import (
    Action,
    Cancel,
    JobEnded,
    JobPlan,
    Launch,
    Publish,
    Scheduler,
    TaskPlan,
)
from localbatch.events import CAPACITY_WAIT_EVENT as CAPACITY_WAIT
from localbatch.events import Event
from localbatch.runtime.base import AttemptOutcome
from localbatch.spec.instance_types import GIB
from localbatch.states import State, StateConflict

SMALL = Resources(1.0, 1 * GIB)
OK = AttemptOutcome(0)
FAIL = AttemptOutcome(1)


def plan(
    tasks: dict[str, int],
    deps: dict[str, list[str]] | None = None,
    *,
    retries: int = 0,
    fail_on: bool = True,
    job_id: str = "job-1",
    priority: int = 0,
    resources: Resources = SMALL,
) -> JobPlan:
    deps = deps or {}
    upstream = {name: frozenset(u for u, ds in deps.items() if name in ds) for name in tasks}
    return JobPlan(
        job_id=job_id,
        name=job_id,
        tasks=tuple(
            TaskPlan(name, count, retries, resources, upstream[name], tuple(deps.get(name, ())))
            for name, count in tasks.items()
        ),
        fail_on_instance_fail=fail_on,
        priority=priority,
    )


def launches(actions: list[Action]) -> list[tuple[str, int, int]]:
    return [(a.task_name, a.instance_id, a.attempt) for a in actions if isinstance(a, Launch)]


def events(actions: list[Action]) -> list[str]:
    """Event names with what they are about; a batch is written out instance by instance."""
    out = []
    for a in actions:
        if isinstance(a, Publish):
            e = a.event
            where = e.task_name or ""
            if e.batch is not None:
                out.extend(f"{e.name}:{where}.{i}" for i in e.batch.ids())
                continue
            if e.instance_id is not None:
                where += f".{e.instance_id}"
            out.append(f"{e.name}:{where}" if where else e.name)
    return out


def batches(actions: list[Action]) -> list[tuple[str, str, int, list[int]]]:
    """The batch events: (name, task, instance count, the ids reported one by one)."""
    return [
        (a.event.name, a.event.task_name or "", a.event.batch.count, sorted(a.event.batch.exempt))
        for a in actions
        if isinstance(a, Publish) and a.event.batch is not None
    ]


def ended(actions: list[Action]) -> State | None:
    states = [a.state for a in actions if isinstance(a, JobEnded)]
    return states[0] if states else None


def run(s: Scheduler, task: str, inst: int, outcome: AttemptOutcome = OK) -> list[Action]:
    """Start and end one attempt; answer the actions of its end."""
    s.started("job-1", task, inst, 1.0, {})
    return s.ended("job-1", task, inst, outcome, 2.0)


def unlimited() -> Scheduler:
    return Scheduler(HostCapacity.unlimited())


def test_fan_out_fan_in_runs_in_dependency_order() -> None:
    s = unlimited()
    first = s.submit(
        plan(
            {"split": 1, "c1": 2, "c2": 1, "merge": 1},
            {"split": ["c1", "c2"], "c1": ["merge"], "c2": ["merge"]},
        ),
        0.0,
    )
    assert launches(first) == [("split", 0, 0)]
    after_split = run(s, "split", 0)
    assert sorted(launches(after_split)) == [("c1", 0, 0), ("c1", 1, 0), ("c2", 0, 0)]
    assert launches(run(s, "c1", 0)) == []
    assert launches(run(s, "c2", 0)) == []
    assert launches(run(s, "c1", 1)) == [("merge", 0, 0)]
    last = run(s, "merge", 0)
    assert ended(last) == State.FINISHED
    assert events(last)[-1] == "OnJobFinished"


def test_submit_announces_job_tasks_and_instances_waiting() -> None:
    actions = unlimited().submit(plan({"a": 2}), 0.0)
    assert events(actions) == [
        "OnJobWaiting",
        "OnTaskWaiting:a",
        "OnInstanceWaiting:a.0",
        "OnInstanceWaiting:a.1",
    ]
    # One event speaks for all of a task's instances, however many.
    assert batches(actions) == [("OnInstanceWaiting", "a", 2, [])]


def test_a_large_task_costs_its_description_not_its_instance_count() -> None:
    s = Scheduler(HostCapacity.unlimited(max_parallel=2))
    actions = s.submit(plan({"a": 1_000_000, "b": 1_000_000}), 0.0)
    # Job, tasks, one batch each, two launches, and one wait for capacity per task.
    assert len(actions) == 1 + 2 + 2 + 2 + 2
    assert launches(actions) == [("a", 0, 0), ("a", 1, 0)]
    job = s.jobs["job-1"]
    assert len(job.tasks["a"].instances.records) == 2
    assert job.instance_counts[State.WAITING] == 2_000_000  # launched, not started yet
    # The queue goes on in id order, within capacity, without holding every instance.
    assert launches(run(s, "a", 0)) == [("a", 2, 0)]
    stop = s.stop("job-1", 3.0)
    assert batches(stop) == [
        ("OnInstanceStopped", "a", 1_000_000, [0, 1, 2]),
        ("OnInstanceStopped", "b", 1_000_000, []),
    ]
    # The idle ones stop at once; a.1 and a.2 once their attempts return.
    assert job.instance_counts[State.STOPPED] == 2_000_000 - 3
    assert sorted(c.instance_id for c in stop if isinstance(c, Cancel)) == [1, 2]


def test_job_and_task_run_once_their_first_instance_runs() -> None:
    s = unlimited()
    s.submit(plan({"a": 2}), 0.0)
    actions = s.started("job-1", "a", 0, 5.0, {"ref": "c1"})
    assert events(actions) == ["OnJobRunning", "OnTaskRunning:a", "OnInstanceRunning:a.0"]
    assert events(s.started("job-1", "a", 1, 6.0, {})) == ["OnInstanceRunning:a.1"]
    snap = s.snapshot("job-1")
    assert snap.start_time == 5.0
    assert snap.tasks[0].instances[0].attempts[0].ref == "c1"


def test_retries_then_success() -> None:
    s = unlimited()
    s.submit(plan({"a": 1}, retries=2), 0.0)
    retry = run(s, "a", 0, FAIL)
    assert launches(retry) == [("a", 0, 1)]
    assert "OnInstanceWaiting:a.0" in events(retry)
    done = run(s, "a", 0, OK)
    assert ended(done) == State.FINISHED
    inst = s.snapshot("job-1").tasks[0].instances[0]
    assert inst.retry_count == 1
    assert [a.exit_code for a in inst.attempts] == [1, 0]


def test_timeout_is_a_failure_and_is_retried() -> None:
    s = unlimited()
    s.submit(plan({"a": 1}, retries=1), 0.0)
    timeout = AttemptOutcome(None, "Timeout", "too slow")
    assert launches(run(s, "a", 0, timeout)) == [("a", 0, 1)]
    last = run(s, "a", 0, timeout)
    assert ended(last) == State.FAILED
    inst = s.snapshot("job-1").tasks[0].instances[0]
    assert [a.error_code for a in inst.attempts] == ["Timeout", "Timeout"]
    assert inst.state == State.FAILED and inst.retry_count == 1


def test_fail_on_instance_fail_stops_the_rest_and_fails_the_job() -> None:
    s = unlimited()
    s.submit(plan({"a": 2, "b": 1, "after": 1}, {"a": ["after"]}), 0.0)
    s.started("job-1", "a", 1, 1.0, {})
    s.started("job-1", "b", 0, 1.0, {})
    failed = run(s, "a", 0, FAIL)
    cancels = sorted((c.task_name, c.instance_id) for c in failed if isinstance(c, Cancel))
    assert cancels == [("a", 1), ("b", 0)]
    assert "OnTaskFailed:a" in events(failed)
    assert "OnInstanceStopped:after.0" in events(failed)
    assert ended(failed) is None  # cancelled attempts still running
    s.ended("job-1", "a", 1, AttemptOutcome(143, "Stopped", "stopped"), 3.0)
    last = s.ended("job-1", "b", 0, AttemptOutcome(143, "Stopped", "stopped"), 3.0)
    assert ended(last) == State.FAILED
    snap = s.snapshot("job-1")
    states = {t.name: t.state for t in snap.tasks}
    assert states == {"a": State.FAILED, "b": State.STOPPED, "after": State.STOPPED}
    assert snap.instance_metrics.failed == 1 and snap.instance_metrics.stopped == 3
    assert "Instance 0 of task a failed" in snap.message


def test_failure_tolerated_when_job_fail_on_instance_fail_is_false() -> None:
    s = unlimited()
    s.submit(plan({"a": 2, "after": 1}, {"a": ["after"]}, fail_on=False), 0.0)
    assert launches(run(s, "a", 0, FAIL)) == []
    assert launches(run(s, "a", 1, OK)) == [("after", 0, 0)]
    last = run(s, "after", 0)
    assert ended(last) == State.FINISHED
    task_a = s.snapshot("job-1").tasks[0]
    assert task_a.state == State.FINISHED
    assert task_a.metrics.failed == 1 and task_a.metrics.finished == 1


def test_stop_stops_waiting_at_once_and_running_when_they_return() -> None:
    s = Scheduler(HostCapacity.unlimited(max_parallel=1))
    s.submit(plan({"a": 2}), 0.0)
    s.started("job-1", "a", 0, 1.0, {})
    stop = s.stop("job-1", 2.0)
    assert [a for a in stop if isinstance(a, Cancel)] == [Cancel("job-1", "a", 0)]
    assert "OnInstanceStopped:a.1" in events(stop)
    assert ended(stop) is None
    last = s.ended("job-1", "a", 0, AttemptOutcome(143, "Stopped", "stopped"), 3.0)
    assert ended(last) == State.STOPPED
    with pytest.raises(StateConflict):
        s.stop("job-1", 4.0)


def test_stop_of_a_job_with_nothing_running_ends_it_now() -> None:
    s = Scheduler(HostCapacity.unlimited(max_parallel=1))
    s.submit(plan({"a": 1}, job_id="job-1"), 0.0)
    s.submit(plan({"a": 1}, job_id="job-2"), 0.0)
    assert ended(s.stop("job-2", 1.0)) == State.STOPPED


def test_max_parallel_and_priority_order() -> None:
    s = Scheduler(HostCapacity.unlimited(max_parallel=1))
    assert launches(s.submit(plan({"a": 2}, job_id="job-1"), 0.0)) == [("a", 0, 0)]
    s.submit(plan({"low": 1}, job_id="job-low", priority=1), 0.0)
    s.submit(plan({"high": 1}, job_id="job-high", priority=9), 0.0)
    s.started("job-1", "a", 0, 1.0, {})
    # job-1 keeps going first? No: a higher priority job waiting for the same capacity wins.
    nxt = s.ended("job-1", "a", 0, OK, 2.0)
    assert [(a.job_id, a.task_name) for a in nxt if isinstance(a, Launch)] == [("job-high", "high")]


def test_memory_is_never_oversubscribed() -> None:
    host = HostCapacity(cpu_cores=64, memory_bytes=10 * GIB)
    s = Scheduler(host)
    big = Resources(1.0, 4 * GIB)
    first = s.submit(plan({"a": 5}, resources=big), 0.0)
    assert len(launches(first)) == 2  # 8 GiB of 10
    assert s.ledger.memory_in_use <= host.memory_bytes
    assert len(launches(run(s, "a", 0))) == 1


def test_cores_bound_concurrency_and_smaller_shapes_backfill() -> None:
    s = Scheduler(HostCapacity(cpu_cores=4, memory_bytes=64 * GIB))
    s.submit(plan({"big": 2}, resources=Resources(3.0, GIB), job_id="job-1"), 0.0)
    follow = s.submit(plan({"small": 1}, job_id="job-2"), 0.0)
    assert launches(follow) == [("small", 0, 0)]  # 3 + 1 cores: the second big must wait


def test_only_runs_selected_tasks_and_stops_the_others() -> None:
    s = unlimited()
    actions = s.submit(
        plan({"split": 1, "count": 1, "merge": 1}, {"split": ["count"], "count": ["merge"]}),
        0.0,
        only=["count"],
    )
    assert launches(actions) == [("count", 0, 0)]
    assert "OnTaskStopped:split" in events(actions)
    last = run(s, "count", 0)
    assert ended(last) == State.FINISHED
    snap = s.snapshot("job-1")
    assert {t.name: t.state for t in snap.tasks}["merge"] == State.STOPPED
    with pytest.raises(ValueError, match="nope"):
        unlimited().submit(plan({"a": 1}), 0.0, only=["nope"])


def test_restart_runs_only_instances_not_kept_finished() -> None:
    s = unlimited()
    s.submit(plan({"a": 3, "b": 1}, {"a": ["b"]}), 0.0)
    s.stop("job-1", 1.0)
    for i in range(3):
        s.ended("job-1", "a", i, AttemptOutcome(143, "Stopped", "stopped"), 1.5)
    assert s.snapshot("job-1").state == State.STOPPED
    actions = s.submit(plan({"a": 3, "b": 1}, {"a": ["b"]}), 2.0, keep_finished={"a": [0, 2]})
    assert launches(actions) == [("a", 1, 0)]
    assert "OnInstanceWaiting:a.0" not in events(actions)
    assert launches(run(s, "a", 1)) == [("b", 0, 0)]


def test_everything_kept_finishes_at_once() -> None:
    actions = unlimited().submit(plan({"a": 1}), 0.0, keep_finished={"a": [0]})
    assert ended(actions) == State.FINISHED


def _retry_counts(actions: list[Action]) -> list[tuple[str, int | None]]:
    return [
        (a.event.name, a.event.retry_count)
        for a in actions
        if isinstance(a, Publish) and a.event.category == "Instance"
    ]


def test_retries_used_before_a_recovery_leave_only_what_is_left() -> None:
    s = unlimited()
    actions = s.submit(plan({"a": 1}, retries=2), 0.0, retries_used={"a": {0: 1}})
    assert launches(actions) == [("a", 0, 0)]
    assert _retry_counts(actions) == [("OnInstanceWaiting", 1)]
    assert launches(run(s, "a", 0, FAIL)) == [("a", 0, 1)]  # retry 2 of 2
    last = run(s, "a", 0, FAIL)
    assert launches(last) == [] and ended(last) == State.FAILED
    assert ("OnInstanceFailed", 2) in _retry_counts(last)


def test_no_retry_left_and_fail_on_instance_fail_false_is_not_run_again() -> None:
    s = unlimited()
    job = plan({"a": 2, "b": 1}, {"a": ["b"]}, retries=1, fail_on=False)
    actions = s.submit(job, 0.0, retries_used={"a": {0: 2, 1: 1}})
    assert launches(actions) == [("a", 1, 0)]
    assert "OnInstanceWaiting:a.0" not in events(actions)  # it stays Failed as recorded
    assert launches(run(s, "a", 1)) == [("b", 0, 0)]
    assert ended(run(s, "b", 0)) == State.FINISHED
    a = s.snapshot("job-1").tasks[0]
    assert a.state == State.FINISHED and a.metrics.failed == 1 and a.retries == 3


def test_a_task_whose_instances_all_ended_before_ends_at_submit() -> None:
    s = unlimited()
    job = plan({"a": 1, "b": 1}, {"a": ["b"]}, fail_on=False)
    actions = s.submit(job, 0.0, retries_used={"a": {0: 1}})
    assert "OnTaskFinished:a" in events(actions)
    assert launches(actions) == [("b", 0, 0)]


def test_no_retry_left_and_fail_on_instance_fail_fails_the_job_at_once() -> None:
    s = unlimited()
    actions = s.submit(plan({"a": 2}), 0.0, retries_used={"a": {1: 1}})
    assert launches(actions) == [] and ended(actions) == State.FAILED
    assert "OnTaskFailed:a" in events(actions) and "OnInstanceStopped:a.0" in events(actions)
    assert s.jobs["job-1"].message == "Instance 1 of task a failed: no retry left"


def test_resubmitting_an_active_job_is_a_conflict() -> None:
    s = unlimited()
    s.submit(plan({"a": 1}), 0.0)
    with pytest.raises(StateConflict):
        s.submit(plan({"a": 1}), 1.0)


def test_capacity_is_returned_after_every_attempt() -> None:
    s = Scheduler(HostCapacity(cpu_cores=2, memory_bytes=4 * GIB))
    s.submit(plan({"a": 3}, retries=1, resources=Resources(2.0, GIB)), 0.0)
    run(s, "a", 0, FAIL)
    run(s, "a", 0, OK)
    run(s, "a", 1)
    last = run(s, "a", 2)
    assert ended(last) == State.FINISHED
    assert s.ledger.running == 0 and s.ledger.memory_in_use == 0


def test_events_carry_attempt_results_and_metrics() -> None:
    s = unlimited()
    s.submit(plan({"a": 1}, retries=1), 0.0)
    s.started("job-1", "a", 0, 1.0, {"stdout_object": "oss://bkt/stdout.x"})
    actions = s.ended("job-1", "a", 0, AttemptOutcome(None, "OutOfMemory", "killed"), 2.0)
    waiting = next(a.event for a in actions if isinstance(a, Publish))
    assert waiting.name == "OnInstanceWaiting"
    assert (waiting.retry_count, waiting.attempt, waiting.error_code) == (1, 0, "OutOfMemory")
    assert waiting.detail["stdout_object"] == "oss://bkt/stdout.x"
    assert waiting.detail["attempts"][0]["error_message"] == "killed"
    run(s, "a", 0)
    snap = s.snapshot("job-1")
    assert snap.task_metrics.finished == 1 and snap.instance_metrics.finished == 1
    assert snap.tasks[0].retries == 1


def _capacity_waits(actions: list[Action]) -> list[Event]:
    return [a.event for a in actions if isinstance(a, Publish) and a.event.name == CAPACITY_WAIT]


def test_fresh_instances_held_back_by_capacity_are_said_once_with_the_reason() -> None:
    s = Scheduler(HostCapacity(cpu_cores=2, memory_bytes=16 * GIB))
    first = s.submit(plan({"a": 3}, resources=Resources(2.0, 4 * GIB)), 0.0)
    assert launches(first) == [("a", 0, 0)]
    [held] = _capacity_waits(first)  # the task's fresh instances: one batch event
    assert (held.task_name, held.instance_id, held.state) == ("a", None, State.WAITING)
    assert held.batch is not None and list(held.batch.ids()) == [1, 2]
    wait = held.detail["capacity_wait"]
    assert wait == {"since": 0.0, "reason": "needs 2 cores, 2 of this host's 2 in use"}
    s.started("job-1", "a", 0, 1.0, {})
    after = s.ended("job-1", "a", 0, OK, 5.0)
    assert launches(after) == [("a", 1, 0)]
    assert _capacity_waits(after) == []  # a.2 was said to wait already
    s.started("job-1", "a", 1, 6.0, {})
    attempt = s.snapshot("job-1").tasks[0].instances[1].attempts[0]
    assert (attempt.launch_time, attempt.capacity_wait_start, attempt.start_time) == (5.0, 0.0, 6.0)
    assert attempt.capacity_wait_reason == "needs 2 cores, 2 of this host's 2 in use"
    s.ended("job-1", "a", 1, OK, 7.0)
    s.started("job-1", "a", 2, 8.0, {})
    last = s.snapshot("job-1").tasks[0].instances[2].attempts[0]
    assert (last.launch_time, last.capacity_wait_start) == (7.0, 0.0)
    assert s.jobs["job-1"].tasks["a"].capacity_wait is None  # no fresh instance is left


def test_an_instance_launched_at_once_never_waited_for_capacity() -> None:
    s = unlimited()
    actions = s.submit(plan({"a": 2}), 0.0)
    assert _capacity_waits(actions) == []
    s.started("job-1", "a", 0, 1.0, {})
    attempt = s.snapshot("job-1").tasks[0].instances[0].attempts[0]
    assert (attempt.launch_time, attempt.capacity_wait_start) == (0.0, None)
    assert attempt.capacity_wait_reason == ""


def test_a_retry_held_back_waits_on_its_own_and_max_parallel_is_the_reason() -> None:
    s = Scheduler(HostCapacity.unlimited(max_parallel=1))
    s.submit(plan({"a": 1}, retries=1), 0.0)
    s.started("job-1", "a", 0, 1.0, {})
    s.submit(plan({"b": 1}, job_id="job-2", priority=9), 1.5)
    ended_ = s.ended("job-1", "a", 0, FAIL, 2.0)  # b.0 goes first; the retry of a.0 waits
    assert launches(ended_) == [("b", 0, 0)]
    [held] = _capacity_waits(ended_)
    assert (held.job_id, held.instance_id, held.retry_count) == ("job-1", 0, 1)
    reason = held.detail["capacity_wait"]
    assert reason is not None and "--max-parallel 1" in reason["reason"]
    s.started("job-2", "b", 0, 2.5, {})
    s.ended("job-2", "b", 0, OK, 3.0)
    s.started("job-1", "a", 0, 3.5, {})
    retry = s.snapshot("job-1").tasks[0].instances[0].attempts[1]
    assert (retry.launch_time, retry.capacity_wait_start) == (3.0, 2.0)
    assert "--max-parallel 1" in retry.capacity_wait_reason


def test_stopping_a_job_clears_its_capacity_waits() -> None:
    s = Scheduler(HostCapacity.unlimited(max_parallel=1))
    s.submit(plan({"a": 3}), 0.0)
    assert s.jobs["job-1"].tasks["a"].capacity_wait is not None
    stopped = s.stop("job-1", 1.0)
    assert s.jobs["job-1"].tasks["a"].capacity_wait is None
    assert _capacity_waits(stopped) == []


def test_oversubscribe_starts_instances_side_by_side_up_to_max_parallel() -> None:
    host = HostCapacity(cpu_cores=2, memory_bytes=4 * GIB, max_parallel=3, oversubscribe=True)
    s = Scheduler(host)
    actions = s.submit(plan({"a": 4}, resources=Resources(2.0, 4 * GIB)), 0.0)
    assert launches(actions) == [("a", 0, 0), ("a", 1, 0), ("a", 2, 0)]
    [held] = _capacity_waits(actions)
    assert held.batch is not None and list(held.batch.ids()) == [3]
