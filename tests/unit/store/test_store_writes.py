"""The store records submitted jobs and applies events transactionally."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from localbatch.events import AttemptSnapshot, Event
from localbatch.spec.model import Job
from localbatch.states import State
from localbatch.store import DuplicateToken, Store, body_digest, runner_alive

JobFactory = Callable[..., Job]


def _instance_event(state: State, instance: int = 0, *, attempt: int = 0, **kw: object) -> Event:
    return Event(
        name=f"OnInstance{state.value}",
        job_id="job-1",
        state=state,
        time=10.0,
        category="Instance",
        task_name="split",
        instance_id=instance,
        attempt=attempt,
        **kw,  # type: ignore[arg-type]
    )


def _started(start: float, ref: str) -> Event:
    """split.0's attempt 0 started as container `ref`."""
    attempt = AttemptSnapshot(0, State.RUNNING, start, ref=ref)
    return _instance_event(
        State.RUNNING, start_time=start, latest_attempt=attempt, detail={"ref": ref}
    )


def test_create_job_records_tasks_and_instances_waiting(store: Store, make_job: JobFactory) -> None:
    job = make_job(instances=3)
    store.create_job("job-1", job, created=5.0, owner="alice")

    record = store.get_job("job-1")
    assert record is not None
    assert (record.name, record.owner, record.priority) == ("demo", "alice", 1)
    assert record.state == State.WAITING
    assert record.creation_time == 5.0
    assert record.start_time is None
    assert record.task_counts.of(State.WAITING) == 2
    assert record.instance_counts.of(State.WAITING) == 6
    assert store.job_body("job-1") == dict(job.raw)
    assert [t.name for t in store.list_tasks("job-1").items] == ["split", "merge"]
    assert runner_alive(record.runner)


def test_events_update_snapshots_and_are_recorded(store: Store, make_job: JobFactory) -> None:
    store.create_job("job-1", make_job(), created=1.0)
    store.on_event(Event("OnJobRunning", "job-1", State.RUNNING, 2.0, "Job", start_time=2.0))
    store.on_event(
        Event("OnTaskRunning", "job-1", State.RUNNING, 2.0, "Task", "split", start_time=2.0)
    )
    store.on_event(_started(2.0, "c1"))
    store.on_event(
        _instance_event(
            State.FAILED,
            start_time=2.0,
            end_time=3.0,
            exit_code=2,
            error_code="ExitCode",
            error_message="exit 2",
            latest_attempt=AttemptSnapshot(0, State.FAILED, None, 3.0, 2, "ExitCode", "exit 2"),
            detail={"stdout": "oss://bkt/logs/stdout.job-1.split.0"},
        )
    )

    job = store.get_job("job-1")
    assert job is not None and job.state == State.RUNNING and job.start_time == 2.0
    task = store.get_task("job-1", "split")
    assert task is not None and task.state == State.RUNNING
    assert task.instance_counts.of(State.FAILED) == 1
    instance = store.get_instance("job-1", "split", 0)
    assert instance is not None
    assert (instance.state, instance.exit_code, instance.error_code) == (
        State.FAILED,
        2,
        "ExitCode",
    )
    # Detail accumulates: the runtime ref survives the later event.
    assert instance.detail == {"ref": "c1", "stdout": "oss://bkt/logs/stdout.job-1.split.0"}
    attempts = store.attempts("job-1", "split", 0)
    assert [(a.attempt, a.state, a.ref) for a in attempts] == [(0, State.FAILED, "c1")]
    # The event that ends it need not repeat its start.
    assert (attempts[0].start_time, attempts[0].end_time) == (2.0, 3.0)
    # A restart numbers attempts from 0 again; the first run's attempt is kept.
    store.claim_job("job-1")
    store.on_event(_started(4.0, "c2"))
    runs = [(a.run, a.attempt, a.ref) for a in store.attempts("job-1", "split", 0)]
    assert runs == [(0, 0, "c1"), (1, 0, "c2")]
    assert [e.name for e in store.events("job-1")] == [
        "OnJobRunning",
        "OnTaskRunning",
        "OnInstanceRunning",
        "OnInstanceFailed",
        "OnInstanceRunning",
    ]
    later = store.events("job-1", after=store.events("job-1")[1].seq)
    assert [e.payload["name"] for e in later][:2] == ["OnInstanceRunning", "OnInstanceFailed"]


def test_priority_change_event_sets_priority(store: Store, make_job: JobFactory) -> None:
    store.create_job("job-1", make_job(), created=1.0)
    store.on_event(
        Event("OnPriorityChange", "job-1", State.STOPPED, 2.0, "Job", detail={"priority": 9})
    )
    record = store.get_job("job-1")
    assert record is not None and record.priority == 9 and record.state == State.WAITING


def test_events_of_a_deleted_job_are_dropped(store: Store, make_job: JobFactory) -> None:
    store.create_job("job-1", make_job(), created=1.0)
    assert store.delete_job("job-1")
    store.on_event(Event("OnJobRunning", "job-1", State.RUNNING, 2.0, "Job"))
    assert store.get_job("job-1") is None
    assert store.events("job-1") == []
    assert store.list_instances("job-1").items == ()
    assert not store.delete_job("job-1")


def test_idempotent_token_names_one_job(store: Store, make_job: JobFactory) -> None:
    job = make_job()
    store.create_job("job-1", job, created=1.0, idempotent_token="tok")
    with pytest.raises(DuplicateToken) as raised:
        store.create_job("job-2", make_job(name="other"), created=2.0, idempotent_token="tok")
    assert raised.value.job_id == "job-1"
    assert raised.value.body_digest == body_digest(job.raw)
    assert store.get_job("job-2") is None


def test_body_digest_ignores_key_order() -> None:
    assert body_digest({"a": 1, "b": {"c": 2, "d": 3}}) == body_digest(
        {"b": {"d": 3, "c": 2}, "a": 1}
    )
    assert body_digest({"a": 1}) != body_digest({"a": 2})


def test_a_failed_write_leaves_nothing_behind(store: Store, make_job: JobFactory) -> None:
    store.create_job("job-1", make_job(), created=1.0)
    with pytest.raises(sqlite3.IntegrityError):
        store.create_job("job-1", make_job(name="again"), created=2.0)
    record = store.get_job("job-1")
    assert record is not None and record.name == "demo"
    assert record.instance_counts.of(State.WAITING) == 4


def test_threads_write_concurrently(store: Store, make_job: JobFactory) -> None:
    store.create_job("job-1", make_job(instances=40), created=1.0)

    def finish(instance: int) -> None:
        store.on_event(_instance_event(State.FINISHED, instance, exit_code=0))

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    task = store.get_task("job-1", "split")
    assert task is not None and task.instance_counts.of(State.FINISHED) == 40
    assert len(store.events("job-1")) == 40


OTHER_PROCESS = """
import sys
from pathlib import Path
from localbatch.events import AttemptSnapshot, Event
from localbatch.states import State
from localbatch.store import Store
other = Store.open(Path(sys.argv[1]))
other.on_event(Event("OnJobFinished", "job-1", State.FINISHED, 9.0, "Job", end_time=9.0))
other.close()
"""


def test_another_process_sees_and_writes_the_same_store(
    tmp_path: Path, make_job: JobFactory
) -> None:
    store = Store.open(tmp_path)
    try:
        store.create_job("job-1", make_job(), created=1.0)
        subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(tmp_path)], check=True, timeout=60)
        record = store.get_job("job-1")
        assert record is not None and record.state == State.FINISHED and record.end_time == 9.0
    finally:
        store.close()


def test_runner_alive_rejects_dead_or_reused_processes() -> None:
    assert not runner_alive("999999999:1.000")
    assert not runner_alive("garbage")
    assert not runner_alive("1:1.000")  # pid 1 exists but started at another time


def test_claim_job_takes_over_only_from_the_expected_runner(
    store: Store, make_job: JobFactory
) -> None:
    store.create_job("job-1", make_job(), created=1.0, runner="dead:1")
    assert not store.claim_job("job-1", "me:2", expected="someone-else:3")
    assert store.claim_job("job-1", "me:2", expected="dead:1", new_run=False)
    record = store.get_job("job-1")
    assert record is not None and (record.runner, record.run) == ("me:2", 0)
    assert store.claim_job("job-1", "me:2")
    record = store.get_job("job-1")
    assert record is not None and record.run == 1
