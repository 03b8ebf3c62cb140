"""Instances recorded lazily: a job of any size is recorded as its tasks; reads answer as if
every instance had a row (counts, GetInstance, paged lists); batch events change many."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from localbatch.events import Event, InstanceBatch
from localbatch.spec.model import Job
from localbatch.states import State
from localbatch.store import Store
from localbatch.store.records import InstanceRecord

JobFactory = Callable[..., Job]


def _rows(store: Store) -> int:
    with sqlite3.connect(store.path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0])


def _event(state: State, instance: int, **kw: object) -> Event:
    return Event(
        f"OnInstance{state.value}",
        "job-1",
        state,
        10.0,
        "Instance",
        "split",
        instance,
        **kw,  # type: ignore[arg-type]
    )


def _batch(state: State, count: int, exempt: set[int], task: str = "split") -> Event:
    return Event(
        f"OnInstance{state.value}",
        "job-1",
        state,
        20.0,
        "Instance",
        task,
        batch=InstanceBatch(count, frozenset(exempt)),
    )


def _all_pages(store: Store, page_size: int, **kw: object) -> list[InstanceRecord]:
    seen: list[InstanceRecord] = []
    marker = ""
    while True:
        page = store.list_instances(
            "job-1",
            "split",
            marker=marker,
            max_items=page_size,
            **kw,  # type: ignore[arg-type]
        )
        seen.extend(page.items)
        marker = page.next_marker
        if not marker:
            return seen


def test_a_large_job_is_recorded_as_its_tasks(store: Store, make_job: JobFactory) -> None:
    store.create_job("job-1", make_job(instances=10_000), created=1.0)
    assert _rows(store) == 0
    job = store.get_job("job-1")
    assert job is not None and job.instance_counts.of(State.WAITING) == 20_000  # two tasks
    task = store.get_task("job-1", "split")
    assert task is not None and task.instance_counts.by_state == {State.WAITING: 10_000}
    idle = store.get_instance("job-1", "split", 9_999)
    assert idle is not None and idle.state == State.WAITING and idle.retry_count == 0
    assert idle.start_time is None and idle.attempt is None and dict(idle.detail) == {}
    assert store.get_instance("job-1", "split", 10_000) is None
    assert store.get_instance("job-1", "nope", 0) is None
    listed = _all_pages(store, 700)
    assert [i.instance_id for i in listed] == list(range(10_000))


def test_recorded_and_idle_instances_read_together(store: Store, make_job: JobFactory) -> None:
    store.create_job("job-1", make_job(instances=2_000), created=1.0)
    store.on_event(_event(State.RUNNING, 5, start_time=11.0, detail={"ref": "c5"}))
    store.on_event(_event(State.FINISHED, 1_500, start_time=11.0, end_time=12.0, exit_code=0))
    assert _rows(store) == 2

    counts = store.get_task("job-1", "split")
    assert counts is not None
    assert counts.instance_counts.by_state == {
        State.WAITING: 1_998,
        State.RUNNING: 1,
        State.FINISHED: 1,
    }
    everything = _all_pages(store, 333)
    assert [i.instance_id for i in everything] == list(range(2_000))
    assert everything[5].state == State.RUNNING and everything[5].detail["ref"] == "c5"
    assert everything[1_500].exit_code == 0
    waiting = _all_pages(store, 500, states=(State.WAITING,))
    assert [i.instance_id for i in waiting] == [i for i in range(2_000) if i not in (5, 1_500)]
    ended = store.list_instances("job-1", "split", states=(State.FINISHED, State.RUNNING))
    assert [i.instance_id for i in ended.items] == [5, 1_500]
    recorded = store.list_instances("job-1", max_items=None, recorded_only=True)
    assert [(i.task_name, i.instance_id) for i in recorded.items] == [
        ("split", 5),
        ("split", 1_500),
    ]
    # Job-wide: task order (split, then merge), then ids.
    whole = store.list_instances("job-1", max_items=None).items
    assert [(i.task_name, i.instance_id) for i in whole[1_999:2_001]] == [
        ("split", 1_999),
        ("merge", 0),
    ]
    assert len(whole) == 4_000


def test_a_batch_stops_the_idle_instances(store: Store, make_job: JobFactory) -> None:
    store.create_job("job-1", make_job(instances=1_000), created=1.0)
    store.on_event(_event(State.RUNNING, 3, start_time=11.0))
    store.on_event(_batch(State.STOPPED, 1_000, {3}))
    task = store.get_task("job-1", "split")
    assert task is not None and task.idle_state == State.STOPPED
    assert task.instance_counts.by_state == {State.STOPPED: 999, State.RUNNING: 1}
    idle = store.get_instance("job-1", "split", 999)
    assert idle is not None and idle.state == State.STOPPED and idle.end_time is None
    recorded = store.events("job-1")
    assert [e.payload.get("batch") for e in recorded] == [None, {"count": 1_000, "exempt": [3]}]


def test_a_batch_waiting_starts_the_instances_it_covers_afresh(
    store: Store, make_job: JobFactory
) -> None:
    """A restart: failed and stopped instances wait again as new; finished ones stay."""
    store.create_job("job-1", make_job(instances=4), created=1.0)
    log = {"stdout_path": "/logs/split.1.stdout"}
    store.on_event(_event(State.FINISHED, 0, start_time=1.0, end_time=2.0, exit_code=0))
    store.on_event(
        _event(State.FAILED, 1, start_time=1.0, end_time=2.0, exit_code=3, attempt=0, detail=log)
    )
    store.on_event(_event(State.FAILED, 2, retry_count=5, error_code="Lost", attempt=0))
    store.on_event(_batch(State.STOPPED, 4, {0, 1, 2}))
    store.on_event(_batch(State.WAITING, 4, {0, 2}))
    after = {i.instance_id: i for i in store.list_instances("job-1", "split").items}
    assert [after[i].state for i in range(4)] == [
        State.FINISHED,
        State.WAITING,
        State.FAILED,  # exempt: reported on its own
        State.WAITING,
    ]
    fresh = after[1]
    assert (fresh.start_time, fresh.end_time, fresh.exit_code, fresh.attempt) == (
        None,
        None,
        None,
        None,
    )
    assert fresh.detail["stdout_path"] == "/logs/split.1.stdout"  # earlier logs stay findable
    assert after[2].retry_count == 5


def test_a_store_of_the_earlier_version_is_migrated(tmp_path: Path, make_job: JobFactory) -> None:
    """Before lazy instances every instance had a row and tasks no count."""
    path = tmp_path / "localbatch.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE tasks (job_id TEXT NOT NULL, name TEXT NOT NULL, pos INTEGER NOT NULL,"
            " state TEXT NOT NULL, start_time REAL, end_time REAL, PRIMARY KEY (job_id, name));"
        )
    fresh = Store.open(tmp_path / "scratch")  # the current schema, to copy jobs from
    fresh.create_job("job-1", make_job(instances=3), created=1.0)
    fresh.close()
    with sqlite3.connect(path) as conn:
        conn.execute("ATTACH ? AS new", (str(tmp_path / "scratch" / "localbatch.db"),))
        conn.executescript(
            "CREATE TABLE jobs AS SELECT * FROM new.jobs;"
            "INSERT INTO tasks SELECT job_id, name, pos, state, start_time, end_time"
            " FROM new.tasks;"
            "CREATE TABLE instances AS SELECT * FROM new.instances WHERE 0;"
        )
        for task, count in (("split", 3), ("merge", 3)):
            for index in range(count):
                conn.execute(
                    "INSERT INTO instances (job_id, task_name, instance_id, state, retry_count,"
                    " error_code, error_message, detail) VALUES (?, ?, ?, ?, 0, '', '', ?)",
                    ("job-1", task, index, "Finished" if index == 0 else "Waiting", json.dumps({})),
                )
    migrated = Store.open(tmp_path)
    try:
        task = migrated.get_task("job-1", "split")
        assert task is not None and task.instance_count == 3
        assert task.instance_counts.by_state == {State.FINISHED: 1, State.WAITING: 2}
        assert len(migrated.list_instances("job-1", "split").items) == 3
    finally:
        migrated.close()
