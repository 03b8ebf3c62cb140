"""One row per attempt, each closed by the event that ends it, and the upgrade that closes
the rows an earlier version left Running (issue 10)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localbatch.events import AttemptSnapshot, Event
from localbatch.spec.model import Job
from localbatch.states import State
from localbatch.store import Store
from localbatch.store.migrations import CURRENT_VERSION, UNKNOWN_END, USAGE_COLUMNS
from localbatch.store.schema import SCHEMA
from localbatch.usage import ResourceUsage

JobFactory = Callable[..., Job]


def _instance(state: State, attempt: AttemptSnapshot | None, **kw: Any) -> Event:
    return Event(
        f"OnInstance{state.value}", "job-1", state, 10.0, "Instance", "split", 0,
        attempt=attempt.attempt if attempt else None, latest_attempt=attempt, **kw,
    )  # fmt: skip


def test_a_retry_closes_the_failed_attempt_and_the_next_has_its_own_row(
    store: Store, make_job: JobFactory
) -> None:
    store.create_job("job-1", make_job(), created=1.0)
    store.on_event(_instance(State.WAITING, None))  # submitted: no attempt yet
    assert store.attempts("job-1", "split", 0) == []
    first = AttemptSnapshot(0, State.RUNNING, 2.0, ref="c1", stdout_offset=0, stderr_offset=0)
    store.on_event(_instance(State.RUNNING, first, start_time=2.0))
    failed = AttemptSnapshot(0, State.FAILED, None, 3.0, exit_code=7)
    store.on_event(_instance(State.WAITING, failed, start_time=2.0, retry_count=1))
    second = AttemptSnapshot(1, State.RUNNING, 4.0, ref="c2", stdout_offset=12, stderr_offset=3)
    store.on_event(_instance(State.RUNNING, second, start_time=2.0, retry_count=1))

    rows = store.attempts("job-1", "split", 0)
    assert [
        (a.attempt, a.state, a.start_time, a.end_time, a.exit_code, a.ref, a.stdout_offset)
        for a in rows
    ] == [
        (0, State.FAILED, 2.0, 3.0, 7, "c1", 0),
        (1, State.RUNNING, 4.0, None, None, "c2", 12),
    ]
    assert rows[1].stderr_offset == 3
    instance = store.get_instance("job-1", "split", 0)
    assert instance is not None and (instance.state, instance.attempt) == (State.RUNNING, 1)


# -- a store written before attempt records ended ----------------------------------------------


def _without_reason(schema: str) -> str:
    """The schema before upgrade 5: attempts without why they waited for capacity."""
    schema = schema.replace("    capacity_wait_reason TEXT,\n", "")
    assert "capacity_wait_reason" not in schema
    return schema


def _without_capacity(schema: str) -> str:
    """The schema before upgrade 4: attempts without their launch and capacity wait."""
    schema = _without_reason(schema)
    schema = schema.replace("    launch_time REAL,\n    capacity_wait_start REAL,\n", "")
    assert "launch_time" not in schema
    return schema


def _without_usage(schema: str) -> str:
    """The schema before upgrade 3: attempts without their resource use."""
    for name, kind in USAGE_COLUMNS.items():
        schema = schema.replace(f"    {name} {kind},\n", "")
    assert "usage_source" not in schema
    return schema


def _old_store(state_dir: Path) -> Path:
    """The schema as it was before the upgrade: no log offsets, user_version 0."""
    state_dir.mkdir(parents=True)
    path = state_dir / "localbatch.db"
    old = _without_usage(_without_capacity(SCHEMA)).replace(
        "    stdout_offset INTEGER,\n    stderr_offset INTEGER,\n", ""
    )
    assert "stdout_offset" not in old
    conn = sqlite3.connect(path)
    conn.executescript(old)
    conn.execute(
        "INSERT INTO jobs (id, name, state, creation_time, body, run)"
        " VALUES ('job-1', 'j', 'Running', 1.0, '{}', 1)"
    )
    # split.0: run 0 had attempts 0 (retried) and 1 (Failed, closed properly); run 1 is on
    # attempt 1 after attempt 0 was retried. split.1's retry event is gone.
    conn.execute(
        "INSERT INTO instances (job_id, task_name, instance_id, state, start_time, attempt)"
        " VALUES ('job-1', 'split', 0, 'Running', 20.0, 1),"
        " ('job-1', 'split', 1, 'Waiting', 30.0, 0)"
    )
    rows = [
        ("split", 0, 0, 0, "Running", 10.0, None, None),
        ("split", 0, 0, 1, "Failed", 10.0, 15.0, 3),
        ("split", 0, 1, 0, "Running", 20.0, None, None),
        ("split", 0, 1, 1, "Running", 20.0, None, None),
        ("split", 1, 1, 0, "Running", 30.0, None, None),
    ]
    conn.executemany(
        "INSERT INTO attempts (job_id, task_name, instance_id, run, attempt, state, start_time,"
        " end_time, exit_code) VALUES ('job-1', ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    for start, end, own, code in ((10.0, 12.0, 10.5, 7), (20.0, 24.0, 21.0, 9)):
        payload = {
            "name": "OnInstanceWaiting", "task_name": "split", "instance_id": 0, "attempt": 0,
            "start_time": start, "time": end, "exit_code": code, "error_code": "",
            "error_message": "", "detail": {"attempts": [{"start_time": own}]},
        }  # fmt: skip
        conn.execute(
            "INSERT INTO events (job_id, name, payload) VALUES ('job-1', ?, ?)",
            ("OnInstanceWaiting", json.dumps(payload)),
        )
    running = {
        "name": "OnInstanceRunning", "task_name": "split", "instance_id": 0, "attempt": 1,
        "start_time": 20.0, "time": 25.0,
        "detail": {"attempts": [{"start_time": 21.0}, {"start_time": 24.5}]},
    }  # fmt: skip
    conn.execute(
        "INSERT INTO events (job_id, name, payload) VALUES ('job-1', ?, ?)",
        ("OnInstanceRunning", json.dumps(running)),
    )
    conn.commit()
    conn.close()
    return path


def test_opening_an_old_store_closes_the_attempts_it_left_running(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "state")
    store = Store.open(tmp_path / "state")
    try:
        rows = store.attempts("job-1", "split", 0)
        assert [
            (a.run, a.attempt, a.state, a.start_time, a.end_time, a.exit_code) for a in rows
        ] == [
            (0, 0, State.FAILED, 10.5, 12.0, 7),  # from the retry's event
            (0, 1, State.FAILED, 10.0, 15.0, 3),  # was closed, its own start not logged
            (1, 0, State.FAILED, 21.0, 24.0, 9),
            (1, 1, State.RUNNING, 24.5, None, None),  # the current attempt: still running
        ]
        assert all(a.stdout_offset is None and a.launch_time is None for a in rows)
        (unknown,) = store.attempts("job-1", "split", 1)
        assert (unknown.state, unknown.end_time, unknown.error_message) == (
            State.FAILED,
            None,
            UNKNOWN_END,
        )
    finally:
        store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    conn.close()


def test_the_upgrade_runs_once(tmp_path: Path) -> None:
    _old_store(tmp_path / "state")
    Store.open(tmp_path / "state").close()
    store = Store.open(tmp_path / "state")
    try:
        # A Running row that is not current, written after the upgrade, is not touched again.
        store._conn().execute(
            "UPDATE attempts SET state = 'Running' WHERE run = 0 AND attempt = 0"
            " AND instance_id = 0"
        )
        store.close()
        store = Store.open(tmp_path / "state")
        assert store.attempts("job-1", "split", 0)[0].state == State.RUNNING
    finally:
        store.close()


def test_an_attempt_keeps_its_launch_and_capacity_wait_across_events(
    store: Store, make_job: JobFactory
) -> None:
    store.create_job("job-1", make_job(), created=1.0)
    launched = AttemptSnapshot(0, State.RUNNING, 4.0, launch_time=3.0, capacity_wait_start=1.5)
    store.on_event(_instance(State.RUNNING, launched))
    store.on_event(_instance(State.FINISHED, AttemptSnapshot(0, State.FINISHED, None, 5.0)))
    (row,) = store.attempts("job-1", "split", 0)
    assert (row.launch_time, row.capacity_wait_start, row.end_time) == (3.0, 1.5, 5.0)


def _store_at(state_dir: Path, schema: str, version: int) -> Path:
    """A store of an earlier `version` with `schema`: one job, one Failed attempt."""
    state_dir.mkdir()
    conn = sqlite3.connect(state_dir / "localbatch.db")
    conn.executescript(schema)
    conn.execute(
        "INSERT INTO jobs (id, name, state, creation_time, body) VALUES ('job-1', 'j',"
        " 'Running', 1.0, '{}')"
    )
    conn.execute(
        "INSERT INTO attempts (job_id, task_name, instance_id, run, attempt, state)"
        " VALUES ('job-1', 'split', 0, 0, 0, 'Failed')"
    )
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()
    return state_dir


def test_a_version_3_store_gets_the_capacity_columns(tmp_path: Path) -> None:
    """Upgrade 4: old attempts have no launch time nor capacity wait; new ones keep theirs."""
    state_dir = _store_at(tmp_path / "state", _without_capacity(SCHEMA), 3)
    store = Store.open(state_dir)
    try:
        launched = AttemptSnapshot(1, State.RUNNING, 4.0, launch_time=3.0, capacity_wait_start=1.5)
        store.on_event(_instance(State.RUNNING, launched))
        old, new = store.attempts("job-1", "split", 0)
        assert (old.launch_time, old.capacity_wait_start) == (None, None)
        assert (new.launch_time, new.capacity_wait_start) == (3.0, 1.5)
    finally:
        store.close()
    conn = sqlite3.connect(state_dir / "localbatch.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    conn.close()


def test_a_version_4_store_gets_the_capacity_wait_reason(tmp_path: Path) -> None:
    """Upgrade 5: old attempts have no reason ("" as when they did not wait); new ones
    keep theirs across events that do not know it."""
    state_dir = _store_at(tmp_path / "state", _without_reason(SCHEMA), 4)
    store = Store.open(state_dir)
    try:
        why = "needs 2 cores, 2 of this host's 2 in use"
        launched = AttemptSnapshot(
            1, State.RUNNING, 4.0, launch_time=3.0, capacity_wait_start=1.5,
            capacity_wait_reason=why,
        )  # fmt: skip
        store.on_event(_instance(State.RUNNING, launched))
        store.on_event(_instance(State.FINISHED, AttemptSnapshot(1, State.FINISHED, None, 5.0)))
        old, new = store.attempts("job-1", "split", 0)
        assert (old.capacity_wait_reason, new.capacity_wait_reason) == ("", why)
        assert store.job_attempts("job-1")[1].capacity_wait_reason == why
    finally:
        store.close()
    conn = sqlite3.connect(state_dir / "localbatch.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    conn.close()


def test_a_version_2_store_gets_the_usage_columns(tmp_path: Path) -> None:
    """Upgrade 3: old attempts have no usage (not measured then); new ones keep theirs."""
    state_dir = _store_at(tmp_path / "state", _without_usage(_without_capacity(SCHEMA)), 2)
    store = Store.open(state_dir)
    try:
        (old,) = store.attempts("job-1", "split", 0)
        assert old.usage is None
        usage = ResourceUsage("cgroup v1", 100, 1.5, True, 0.25, 200, 2.0, "a note")
        attempt = AttemptSnapshot(1, State.FINISHED, 2.0, 3.0, 0, usage=usage)
        store.on_event(_instance(State.FINISHED, attempt))
        # A later event that does not know the usage leaves it.
        store.on_event(_instance(State.FINISHED, AttemptSnapshot(1, State.FINISHED, 2.0, 3.0, 0)))
        assert [a.usage for a in store.attempts("job-1", "split", 0)] == [None, usage]
        assert store.job_attempts("job-1")[1].usage == usage
    finally:
        store.close()
    conn = sqlite3.connect(state_dir / "localbatch.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    conn.close()
