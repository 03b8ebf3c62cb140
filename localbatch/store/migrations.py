"""Upgrades of a store written by an earlier localbatch, applied once when it is opened.

`PRAGMA user_version` says which upgrades a store has had; each runs inside the opening
write transaction, so two processes opening an old store at once upgrade it once.

1. Attempt records that end, with their own start. Before it, an attempt followed by a
   retry was never closed: it stayed Running with no end and no exit code; and every
   attempt carried its instance's start time. Such an attempt (Running, but not the current
   attempt of a Running instance) ended Failed, since only a failure is retried: its end,
   exit code and error are taken from the instance event that announced the retry, which
   the event log keeps; where that event is gone, it is closed Failed with no end time,
   saying so in its error message. Every attempt gets its own start time from the list of
   attempts the engine sent with its instance's events, where the log has it. The attempts
   also get columns for where their output begins in the log files (not known for the old
   ones: `localbatch logs` shows their output before the first known one).
2. Instances recorded lazily (`instance_rows`): a task knows its instance count and the
   state of those without a row. Before it every instance had a row: a task's count is its
   number of rows, and none is without one.
3. What each attempt used (peak memory, CPU seconds, OOM kill, time throttled, the limits
   it ran with, where the figures come from): new columns, empty for the attempts recorded
   before, which the report shows as not measured.
4. When each attempt was launched and since when it waited for capacity: two columns,
   unknown (NULL) for the attempts recorded before.
5. Why each attempt waited for capacity: a column, unknown (NULL) for the attempts
   recorded before.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from localbatch.states import State

#: The `user_version` of a store that has had every upgrade below.
CURRENT_VERSION = 5
#: The columns of an attempt's resource use (`ResourceUsage`), added by upgrade 3.
USAGE_COLUMNS = {
    "usage_source": "TEXT",
    "peak_memory_bytes": "INTEGER",
    "cpu_seconds": "REAL",
    "oom_killed": "INTEGER",
    "throttled_seconds": "REAL",
    "memory_limit_bytes": "INTEGER",
    "cpu_limit_cores": "REAL",
    "usage_note": "TEXT",
}
UNKNOWN_END = (
    "This attempt was recorded by an earlier localbatch that did not record how it ended; "
    "it was followed by a retry, so it failed."
)

#: One run of one instance as the old rows name it: (task, instance, the instance's start
#: time in that run, which every attempt row of the run carried), then the attempt number.
_AttemptKey = tuple[str, int, float, int]


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the upgrades this store has not had (the caller holds a write transaction)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version < 1:
        _add_columns(conn, "attempts", stdout_offset="INTEGER", stderr_offset="INTEGER")
        for (job_id,) in conn.execute("SELECT DISTINCT job_id FROM attempts").fetchall():
            repair_attempts(conn, job_id)
    if version < 2:
        added = _add_columns(
            conn,
            "tasks",
            instance_count="INTEGER NOT NULL DEFAULT 0",
            idle_state="TEXT NOT NULL DEFAULT 'Waiting'",
        )
        if "instance_count" in added:
            conn.execute(
                "UPDATE tasks SET instance_count = (SELECT COUNT(*) FROM instances i"
                " WHERE i.job_id = tasks.job_id AND i.task_name = tasks.name)"
            )
    if version < 3:
        _add_columns(conn, "attempts", **USAGE_COLUMNS)
    if version < 4:
        _add_columns(conn, "attempts", launch_time="REAL", capacity_wait_start="REAL")
    if version < 5:
        _add_columns(conn, "attempts", capacity_wait_reason="TEXT")
    if version < CURRENT_VERSION:
        conn.execute(f"PRAGMA user_version = {CURRENT_VERSION}")


def _add_columns(conn: sqlite3.Connection, table: str, **columns: str) -> set[str]:
    """Add the columns the table lacks; answers those it added."""
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    added = set()
    for name, kind in columns.items():
        if name not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            added.add(name)
    return added


@dataclass
class _Told:
    """What a job's instance events tell of its attempts."""

    #: The OnInstanceWaiting event that followed an attempt's failure (the first one).
    retries: dict[_AttemptKey, dict[str, Any]] = field(default_factory=dict)
    #: An attempt's own start time, from the latest event listing it.
    starts: dict[_AttemptKey, float] = field(default_factory=dict)


def _told(conn: sqlite3.Connection, job_id: str) -> _Told:
    told = _Told()
    rows = conn.execute(
        "SELECT payload FROM events WHERE job_id = ? AND name LIKE 'OnInstance%' ORDER BY seq",
        (job_id,),
    )
    for (text,) in rows:
        event: dict[str, Any] = json.loads(text)
        task, instance, began = (event.get(k) for k in ("task_name", "instance_id", "start_time"))
        if not (isinstance(task, str) and isinstance(instance, int)):
            continue
        if not isinstance(began, int | float):
            continue
        attempt = event.get("attempt")
        if event.get("name") == "OnInstanceWaiting" and isinstance(attempt, int):
            told.retries.setdefault((task, instance, began, attempt), event)
        listed = event.get("detail", {}).get("attempts", [])
        for number, item in enumerate(listed if isinstance(listed, list) else []):
            start = item.get("start_time") if isinstance(item, dict) else None
            if isinstance(start, int | float):
                told.starts[(task, instance, began, number)] = float(start)
    return told


def repair_attempts(conn: sqlite3.Connection, job_id: str) -> None:
    """Close the job's attempts left Running that are not their instance's current one,
    and give its attempts their own start times, from its event log."""
    told = _told(conn, job_id)
    rows = conn.execute(
        "SELECT a.rowid AS id, a.task_name, a.instance_id, a.attempt, a.start_time,"
        " a.state = ? AND NOT (i.state IS ? AND a.run = j.run AND a.attempt IS i.attempt)"
        " AS abandoned"
        " FROM attempts a JOIN jobs j ON j.id = a.job_id"
        " LEFT JOIN instances i ON i.job_id = a.job_id AND i.task_name = a.task_name"
        " AND i.instance_id = a.instance_id WHERE a.job_id = ?",
        (State.RUNNING.value, State.RUNNING.value, job_id),
    ).fetchall()
    for row in rows:
        key = (row["task_name"], row["instance_id"], row["start_time"], row["attempt"])
        start = told.starts.get(key, row["start_time"])
        if not row["abandoned"]:
            conn.execute("UPDATE attempts SET start_time = ? WHERE rowid = ?", (start, row["id"]))
            continue
        retry = told.retries.get(key)
        if retry is None:
            conn.execute(
                "UPDATE attempts SET state = ?, start_time = ?, error_message = ? WHERE rowid = ?",
                (State.FAILED.value, start, UNKNOWN_END, row["id"]),
            )
            continue
        conn.execute(
            "UPDATE attempts SET state = ?, start_time = ?, end_time = ?, exit_code = ?,"
            " error_code = ?, error_message = ? WHERE rowid = ?",
            (
                State.FAILED.value,
                start,
                retry.get("time"),
                retry.get("exit_code"),
                retry.get("error_code") or "",
                retry.get("error_message") or "",
                row["id"],
            ),
        )
