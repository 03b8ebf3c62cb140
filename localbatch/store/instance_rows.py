"""Instances in the store, recorded lazily: a row once something happens to an instance.

A job of 10 tasks x 10,000 instances is recorded as its 10 task rows: each knows its
`instance_count` and the `idle_state` of the instances that have no row yet (Waiting, or
Stopped once the job wound down before they started). Reads put the two together, so
counts, GetInstance and paged ListInstances answer as if every instance had a row: an idle
one is in the task's idle state with no attempt, retry, time or result.

Batch events (`Event.batch`) change many instances at once: the rows they cover and the
task's idle state, in one statement each.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from localbatch.events import Event
from localbatch.states import State
from localbatch.store.records import Counts, InstanceRecord, Page

#: Ids read at a time when recorded and idle instances are merged for a page.
_WINDOW = 512


def idle_record(job_id: str, task_name: str, instance_id: int, state: State) -> InstanceRecord:
    """An instance nothing happened to yet, as a row would say it."""
    return InstanceRecord(
        job_id=job_id,
        task_name=task_name,
        instance_id=instance_id,
        state=state,
        start_time=None,
        end_time=None,
        retry_count=0,
        attempt=None,
        exit_code=None,
        error_code="",
        error_message="",
    )


def from_row(row: sqlite3.Row) -> InstanceRecord:
    return InstanceRecord(
        job_id=row["job_id"],
        task_name=row["task_name"],
        instance_id=row["instance_id"],
        state=State(row["state"]),
        start_time=row["start_time"],
        end_time=row["end_time"],
        retry_count=row["retry_count"],
        attempt=row["attempt"],
        exit_code=row["exit_code"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        detail=json.loads(row["detail"]),
    )


def instance_counts(conn: sqlite3.Connection, job_id: str, task_name: str | None = None) -> Counts:
    """How many instances of the job (or one task) are in each state, idle ones included."""
    where, args = "job_id = ?", [job_id]
    if task_name is not None:
        where += " AND task_name = ?"
        args.append(task_name)
    counts: dict[State, int] = {}
    for row in conn.execute(
        f"SELECT state, COUNT(*) AS n FROM instances WHERE {where} GROUP BY state", args
    ):
        counts[State(row["state"])] = row["n"]
    task_where = "t.job_id = ?" + (" AND t.name = ?" if task_name is not None else "")
    for row in conn.execute(
        "SELECT t.idle_state AS state, SUM(t.instance_count - (SELECT COUNT(*) FROM instances i"
        " WHERE i.job_id = t.job_id AND i.task_name = t.name)) AS n"
        f" FROM tasks t WHERE {task_where} GROUP BY t.idle_state",
        args,
    ):
        if row["n"]:
            state = State(row["state"])
            counts[state] = counts.get(state, 0) + row["n"]
    return Counts(counts)


def get_instance(
    conn: sqlite3.Connection, job_id: str, task_name: str, instance_id: int
) -> InstanceRecord | None:
    row = conn.execute(
        "SELECT * FROM instances WHERE job_id = ? AND task_name = ? AND instance_id = ?",
        (job_id, task_name, instance_id),
    ).fetchone()
    if row is not None:
        return from_row(row)
    task = conn.execute(
        "SELECT instance_count, idle_state FROM tasks WHERE job_id = ? AND name = ?",
        (job_id, task_name),
    ).fetchone()
    if task is None or not 0 <= instance_id < task["instance_count"]:
        return None
    return idle_record(job_id, task_name, instance_id, State(task["idle_state"]))


def list_instances(
    conn: sqlite3.Connection,
    job_id: str,
    task_name: str | None,
    *,
    states: Iterable[State],
    start: int,
    max_items: int | None,
    recorded_only: bool,
) -> Page[InstanceRecord]:
    """Instances by task order then id, from id `start` in each task; see Store."""
    wanted = frozenset(states)
    limit = None if max_items is None else max_items + 1
    items: list[InstanceRecord] = []
    for task in _tasks(conn, job_id, task_name):
        room = None if limit is None else limit - len(items)
        if room == 0:
            break
        idle_state = State(task["idle_state"])
        idle_wanted = not recorded_only and (not wanted or idle_state in wanted)
        if idle_wanted:
            found = _merged(conn, job_id, task, idle_state, wanted, start, room)
        else:
            found = _recorded(conn, job_id, task["name"], wanted, start, room)
        items.extend(found)
    more = max_items is not None and len(items) > max_items
    next_marker = str(items[-1].instance_id) if more else ""
    return Page(tuple(items[:max_items]), next_marker)


def _tasks(conn: sqlite3.Connection, job_id: str, task_name: str | None) -> list[sqlite3.Row]:
    sql = "SELECT name, instance_count, idle_state FROM tasks WHERE job_id = ?"
    args: list[Any] = [job_id]
    if task_name is not None:
        sql += " AND name = ?"
        args.append(task_name)
    return conn.execute(sql + " ORDER BY pos", args).fetchall()


def _recorded(
    conn: sqlite3.Connection,
    job_id: str,
    task_name: str,
    wanted: frozenset[State],
    start: int,
    room: int | None,
) -> list[InstanceRecord]:
    """Only rows: the idle instances are not wanted."""
    where, args = ["job_id = ?", "task_name = ?", "instance_id >= ?"], [job_id, task_name, start]
    if wanted:
        where.append(f"state IN ({','.join('?' * len(wanted))})")
        args.extend(sorted(state.value for state in wanted))
    rows = conn.execute(
        f"SELECT * FROM instances WHERE {' AND '.join(where)} ORDER BY instance_id LIMIT ?",
        (*args, -1 if room is None else room),
    )
    return [from_row(row) for row in rows]


def _merged(
    conn: sqlite3.Connection,
    job_id: str,
    task: sqlite3.Row,
    idle_state: State,
    wanted: frozenset[State],
    start: int,
    room: int | None,
) -> list[InstanceRecord]:
    """Rows and idle instances in id order, read a window of ids at a time."""
    found: list[InstanceRecord] = []
    for record in _every_instance(conn, job_id, task, idle_state, start):
        if record.state in wanted or not wanted:
            found.append(record)
            if room is not None and len(found) >= room:
                break
    return found


def _every_instance(
    conn: sqlite3.Connection, job_id: str, task: sqlite3.Row, idle_state: State, start: int
) -> Iterator[InstanceRecord]:
    count = task["instance_count"]
    low = max(start, 0)
    while low < count:
        high = min(count, low + _WINDOW)
        rows = {
            row["instance_id"]: from_row(row)
            for row in conn.execute(
                "SELECT * FROM instances WHERE job_id = ? AND task_name = ?"
                " AND instance_id >= ? AND instance_id < ?",
                (job_id, task["name"], low, high),
            )
        }
        for instance_id in range(low, high):
            record = rows.get(instance_id)
            yield record or idle_record(job_id, task["name"], instance_id, idle_state)
        low = high


def apply_batch(conn: sqlite3.Connection, event: Event) -> None:
    """Every instance of the batch in the event's state: its rows, and the task's idle ones.

    Waiting is a fresh start (no attempt, retry, time or result; the detail, which names
    earlier log files, is kept); any other state only changes state, code and message.
    """
    batch = event.batch
    assert batch is not None and event.task_name is not None
    exempt = json.dumps(sorted(batch.exempt))
    covered = "job_id = ? AND task_name = ? AND instance_id NOT IN (SELECT value FROM json_each(?))"
    args = (event.job_id, event.task_name, exempt)
    if event.state == State.WAITING:
        conn.execute(
            "UPDATE instances SET state = ?, start_time = NULL, end_time = NULL,"
            " retry_count = 0, attempt = NULL, exit_code = NULL, error_code = ?,"
            " error_message = ?, detail = json_set(detail, '$.attempts', json('[]'))"
            f" WHERE {covered}",
            (event.state.value, event.error_code, event.error_message, *args),
        )
    else:
        conn.execute(
            f"UPDATE instances SET state = ?, error_code = ?, error_message = ? WHERE {covered}",
            (event.state.value, event.error_code, event.error_message, *args),
        )
    conn.execute(
        "UPDATE tasks SET idle_state = ? WHERE job_id = ? AND name = ?",
        (event.state.value, event.job_id, event.task_name),
    )
