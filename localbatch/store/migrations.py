"""Upgrades of a store written by an earlier localbatch, applied once when it is opened.

`PRAGMA user_version` says which upgrades a store has had; each runs inside the opening
write transaction, so two processes opening an old store at once upgrade it once.

1. Attempt records that end. Before it, an attempt followed by a retry was never closed:
   it stayed Running with no end, no exit code, and the instance's start time. Such an
   attempt (Running, but not the current attempt of a Running instance) ended Failed, since
   only a failure is retried: its end, exit code, error and own start time are taken from
   the instance event that announced the retry, which the event log keeps. Where that event
   is gone, it is closed Failed with no end time, saying so in its error message. The
   attempts also get columns for where their output begins in the log files (not known
   for the old ones: `localbatch logs` shows their output before the first known one).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from localbatch.states import State

#: The `user_version` of a store that has had every upgrade below.
CURRENT_VERSION = 1
UNKNOWN_END = (
    "This attempt was recorded by an earlier localbatch that did not record how it ended; "
    "it was followed by a retry, so it failed."
)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the upgrades this store has not had (the caller holds a write transaction)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version < 1:
        _add_columns(conn, "attempts", stdout_offset="INTEGER", stderr_offset="INTEGER")
        close_abandoned_attempts(conn)
    if version < CURRENT_VERSION:
        conn.execute(f"PRAGMA user_version = {CURRENT_VERSION}")


def _add_columns(conn: sqlite3.Connection, table: str, **columns: str) -> None:
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    for name, kind in columns.items():
        if name not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def close_abandoned_attempts(conn: sqlite3.Connection) -> int:
    """Close the attempts left Running that are not their instance's current one; answers
    how many."""
    rows = conn.execute(
        "SELECT a.rowid AS id, a.job_id, a.task_name, a.instance_id, a.attempt, a.start_time"
        " FROM attempts a JOIN jobs j ON j.id = a.job_id"
        " LEFT JOIN instances i ON i.job_id = a.job_id AND i.task_name = a.task_name"
        " AND i.instance_id = a.instance_id"
        " WHERE a.state = ? AND NOT (i.state IS ? AND a.run = j.run AND a.attempt IS i.attempt)",
        (State.RUNNING.value, State.RUNNING.value),
    ).fetchall()
    for row in rows:
        end = _retry_event(conn, row)
        if end is None:
            conn.execute(
                "UPDATE attempts SET state = ?, error_message = ? WHERE rowid = ?",
                (State.FAILED.value, UNKNOWN_END, row["id"]),
            )
            continue
        conn.execute(
            "UPDATE attempts SET state = ?, start_time = ?, end_time = ?, exit_code = ?,"
            " error_code = ?, error_message = ? WHERE rowid = ?",
            (
                State.FAILED.value,
                _own_start(end, row["attempt"]) or row["start_time"],
                end.get("time"),
                end.get("exit_code"),
                end.get("error_code") or "",
                end.get("error_message") or "",
                row["id"],
            ),
        )
    return len(rows)


def _retry_event(conn: sqlite3.Connection, attempt: sqlite3.Row) -> dict[str, Any] | None:
    """The OnInstanceWaiting event that followed this attempt's failure: same instance, same
    attempt number and the same instance start time (one per run), the first one."""
    rows = conn.execute(
        "SELECT payload FROM events WHERE job_id = ? AND name = 'OnInstanceWaiting'"
        " AND json_extract(payload, '$.task_name') = ?"
        " AND json_extract(payload, '$.instance_id') = ?"
        " AND json_extract(payload, '$.attempt') = ? ORDER BY seq",
        (attempt["job_id"], attempt["task_name"], attempt["instance_id"], attempt["attempt"]),
    )
    for row in rows:
        payload: dict[str, Any] = json.loads(row["payload"])
        if payload.get("start_time") == attempt["start_time"]:
            return payload
    return None


def _own_start(payload: dict[str, Any], attempt: int) -> float | None:
    """The attempt's own start time, from the list of attempts the engine sent along."""
    attempts = payload.get("detail", {}).get("attempts", [])
    if 0 <= attempt < len(attempts) and isinstance(attempts[attempt], dict):
        start = attempts[attempt].get("start_time")
        return float(start) if isinstance(start, int | float) else None
    return None
