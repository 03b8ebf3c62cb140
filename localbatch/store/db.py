"""The persistent job store: SQLite in WAL mode under the state directory.

One `Store` may be shared by threads (each thread gets its own connection) and several
processes may open the same file (`localbatch run` beside `localbatch serve`, the CLI
reading while a job runs). Every write is one `BEGIN IMMEDIATE` transaction, so an entity's
new snapshot and the event that announced it are committed together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import psutil

from localbatch import owner
from localbatch.diskspace import explain
from localbatch.events import Event
from localbatch.events.codec import event_json
from localbatch.spec.model import Job
from localbatch.states import State
from localbatch.store import instance_rows
from localbatch.store.migrations import USAGE_COLUMNS, migrate
from localbatch.store.records import (
    AttemptRecord,
    Counts,
    EventRecord,
    InstanceRecord,
    JobRecord,
    Page,
    TaskRecord,
)
from localbatch.store.schema import SCHEMA
from localbatch.unwritable import StoreUnwritable, unwritable
from localbatch.usage import ResourceUsage

DB_NAME = "localbatch.db"
#: Attempt columns an event that does not know them (None) leaves as they are: what the
#: attempt used, when it was launched, since when and why it waited for capacity.
KEPT_ATTEMPT_COLUMNS = (
    *USAGE_COLUMNS,
    "launch_time",
    "capacity_wait_start",
    "capacity_wait_reason",
)
#: How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_SECONDS = 30.0


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting for a concurrent opener: SQLite answers this pragma with
    "database is locked" at once, without consulting the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class DuplicateToken(Exception):
    """An IdempotentToken already names a job; `job_id` and `body_digest` say which."""

    def __init__(self, job_id: str, body_digest: str) -> None:
        super().__init__(f"idempotent token already used by {job_id}")
        self.job_id = job_id
        self.body_digest = body_digest


def body_digest(body: Mapping[str, Any]) -> str:
    """A digest of a job body that ignores key order and whitespace (IdempotentToken)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def jobs_by_id_prefix(conn: sqlite3.Connection, columns: str, prefix: str, limit: int) -> list[Any]:
    """`columns` of at most `limit` jobs whose id begins with `prefix` (any case), newest
    first: one query for the store and for completion's read-only look."""
    return conn.execute(
        f"SELECT {columns} FROM jobs WHERE upper(substr(id, 1, ?)) = upper(?)"
        " ORDER BY seq DESC LIMIT ?",
        (len(prefix), prefix, limit),
    ).fetchall()


def current_runner() -> str:
    """This process as "<pid>:<start mark>", so a reused pid is not mistaken for it."""
    return f"{os.getpid()}:{owner.own_start_mark()}"


def runner_pid(runner: str) -> int:
    """The process id of a runner recorded by `current_runner` (ValueError if malformed)."""
    return int(runner.partition(":")[0])


def runner_alive(runner: str) -> bool:
    """Whether the process recorded as `runner` still exists (same pid, same start time)."""
    started = runner.partition(":")[2]
    try:
        pid = runner_pid(runner)
    except ValueError:
        return False
    if not started:
        return bool(psutil.pid_exists(pid))
    return owner.started_as(pid, started)


class Store:
    """Jobs, tasks, instances, attempts and events, persisted transactionally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        # Inside a write transaction, so two processes creating (or upgrading) a store at
        # once take turns (BEGIN IMMEDIATE waits on the busy timeout) instead of one failing.
        try:
            with self._write() as conn:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                migrate(conn)
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        """The store of a state directory (created if need be); StoreUnwritable when it
        cannot be created or written there."""
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnwritable(state_dir, explain(state_dir, exc)) from exc
        return cls(state_dir / DB_NAME)

    # -- connections and transactions -------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("the store is closed")
            with self._unwritable_as_such():
                conn = sqlite3.connect(
                    self.path,
                    timeout=BUSY_TIMEOUT_SECONDS,
                    isolation_level=None,
                    check_same_thread=False,
                )
                try:
                    conn.row_factory = sqlite3.Row
                    _enable_wal(conn)
                    conn.execute("PRAGMA synchronous=NORMAL")
                except BaseException:
                    conn.close()
                    raise
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _unwritable_as_such(self) -> Iterator[None]:
        """A full, read-only or forbidden store directory raises StoreUnwritable."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            translated = unwritable(self.path.parent, exc)
            if translated is None:
                raise
            raise translated from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; StoreUnwritable when the directory refuses it (SQLite may
        have rolled back on its own then: a rollback is only sent to an open transaction)."""
        conn = self._conn()
        with self._unwritable_as_such():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    # -- writes -----------------------------------------------------------------------

    def create_job(
        self,
        job_id: str,
        job: Job,
        *,
        created: float,
        owner: str = "",
        idempotent_token: str = "",
        runner: str | None = None,
    ) -> None:
        """Record a submitted job with all its tasks and instances Waiting (the instances
        as counts: each gets a row once something happens to it, see `instance_rows`).

        Raises DuplicateToken when `idempotent_token` already names a job.
        """
        digest = body_digest(job.raw)
        clusters = sorted({task.cluster_id for task in job.tasks.values() if task.cluster_id})
        with self._write() as conn:
            taken = self.job_for_token(idempotent_token) if idempotent_token else None
            if taken:
                raise DuplicateToken(*taken)
            conn.execute(
                "INSERT INTO jobs (id, name, owner, priority, state, creation_time, body,"
                " cluster_ids, idempotent_token, body_digest, runner)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    job.name,
                    owner,
                    job.priority,
                    State.WAITING.value,
                    created,
                    json.dumps(dict(job.raw), ensure_ascii=False),
                    "," + ",".join(clusters) + "," if clusters else "",
                    idempotent_token or None,
                    digest,
                    current_runner() if runner is None else runner,
                ),
            )
            conn.executemany(
                "INSERT INTO tasks (job_id, name, pos, state, instance_count)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (job_id, name, pos, State.WAITING.value, task.instance_count)
                    for pos, (name, task) in enumerate(job.tasks.items())
                ],
            )

    def claim_job(
        self,
        job_id: str,
        runner: str | None = None,
        *,
        expected: str | None = None,
        new_run: bool = True,
    ) -> bool:
        """Record that this process (or `runner`) runs the job again (restart, recovery).

        With `new_run` a new run starts: the engine numbers attempts from 0 again, the old
        ones are kept. With `expected`, only takes the job over from that runner (False if
        another process did first).
        """
        increment = "run + 1" if new_run else "run"
        sql = f"UPDATE jobs SET runner = ?, run = {increment} WHERE id = ?"
        args: list[Any] = [current_runner() if runner is None else runner, job_id]
        if expected is not None:
            sql += " AND runner = ?"
            args.append(expected)
        with self._write() as conn:
            return conn.execute(sql, args).rowcount > 0

    def on_event(self, event: Event) -> None:
        """EventBus listener: persist the entity's new snapshot and the event, atomically.

        Events of a job that no longer exists (deleted, auto-released) are dropped.
        """
        payload = event_json(event)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (event.job_id,)).fetchone() is None:
                return
            if event.category == "Job":
                self._apply_job(conn, event)
            elif event.category == "Task" and event.task_name is not None:
                self._apply_task(conn, event)
            elif event.category == "Instance" and event.batch is not None:
                instance_rows.apply_batch(conn, event)
            elif (
                event.category == "Instance"
                and event.task_name is not None
                and event.instance_id is not None
            ):
                self._apply_instance(conn, event)
            conn.execute(
                "INSERT INTO events (job_id, name, payload) VALUES (?, ?, ?)",
                (event.job_id, event.name, payload),
            )

    @staticmethod
    def _apply_job(conn: sqlite3.Connection, event: Event) -> None:
        priority = event.detail.get("priority")
        if isinstance(priority, int) and not isinstance(priority, bool):
            conn.execute("UPDATE jobs SET priority = ? WHERE id = ?", (priority, event.job_id))
        if event.name == "OnPriorityChange":
            return
        message = event.error_message or str(event.detail.get("message", ""))
        conn.execute(
            "UPDATE jobs SET state = ?, start_time = ?, end_time = ?, message = ? WHERE id = ?",
            (event.state.value, event.start_time, event.end_time, message, event.job_id),
        )

    @staticmethod
    def _apply_task(conn: sqlite3.Connection, event: Event) -> None:
        conn.execute(
            "INSERT INTO tasks (job_id, name, pos, state, start_time, end_time)"
            " VALUES (?, ?, (SELECT COUNT(*) FROM tasks WHERE job_id = ?), ?, ?, ?)"
            " ON CONFLICT (job_id, name) DO UPDATE SET"
            " state = excluded.state, start_time = excluded.start_time,"
            " end_time = excluded.end_time",
            (
                event.job_id,
                event.task_name,
                event.job_id,
                event.state.value,
                event.start_time,
                event.end_time,
            ),
        )

    @staticmethod
    def _apply_instance(conn: sqlite3.Connection, event: Event) -> None:
        key = (event.job_id, event.task_name, event.instance_id)
        row = conn.execute(
            "SELECT detail FROM instances WHERE job_id = ? AND task_name = ? AND instance_id = ?",
            key,
        ).fetchone()
        detail = json.loads(row["detail"]) if row else {}
        detail.update(event.detail)
        conn.execute(
            "INSERT INTO instances (job_id, task_name, instance_id, state, start_time, end_time,"
            " retry_count, attempt, exit_code, error_code, error_message, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (job_id, task_name, instance_id) DO UPDATE SET"
            " state = excluded.state, start_time = excluded.start_time,"
            " end_time = excluded.end_time, retry_count = excluded.retry_count,"
            " attempt = excluded.attempt, exit_code = excluded.exit_code,"
            " error_code = excluded.error_code, error_message = excluded.error_message,"
            " detail = excluded.detail",
            (
                *key,
                event.state.value,
                event.start_time,
                event.end_time,
                event.retry_count,
                event.attempt,
                event.exit_code,
                event.error_code,
                event.error_message,
                json.dumps(detail, ensure_ascii=False, default=str),
            ),
        )
        attempt = event.latest_attempt
        if attempt is None:
            return
        # Each attempt keeps its own row: a retry's Waiting event closes the one that failed.
        # What an event does not know (None, "") leaves what the row has.
        conn.execute(
            "INSERT INTO attempts (job_id, task_name, instance_id, run, attempt, state,"
            " start_time, end_time, exit_code, error_code, error_message, ref,"
            f" stdout_offset, stderr_offset, {', '.join(KEPT_ATTEMPT_COLUMNS)})"
            " VALUES (?, ?, ?, (SELECT run FROM jobs WHERE id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            f" {', '.join('?' * len(KEPT_ATTEMPT_COLUMNS))})"
            " ON CONFLICT (job_id, task_name, instance_id, run, attempt) DO UPDATE SET"
            " state = excluded.state,"
            " start_time = COALESCE(excluded.start_time, attempts.start_time),"
            " end_time = excluded.end_time, exit_code = excluded.exit_code,"
            " error_code = excluded.error_code, error_message = excluded.error_message,"
            " ref = CASE WHEN excluded.ref = '' THEN attempts.ref ELSE excluded.ref END,"
            " stdout_offset = COALESCE(excluded.stdout_offset, attempts.stdout_offset),"
            " stderr_offset = COALESCE(excluded.stderr_offset, attempts.stderr_offset),"
            + ",".join(
                f" {name} = COALESCE(excluded.{name}, attempts.{name})"
                for name in KEPT_ATTEMPT_COLUMNS
            ),
            (
                *key,
                event.job_id,
                attempt.attempt,
                attempt.state.value,
                attempt.start_time,
                attempt.end_time,
                attempt.exit_code,
                attempt.error_code,
                attempt.error_message,
                attempt.ref,
                attempt.stdout_offset,
                attempt.stderr_offset,
                *usage_row(attempt.usage),
                attempt.launch_time,
                attempt.capacity_wait_start,
                attempt.capacity_wait_reason or None,
            ),
        )

    def delete_job(self, job_id: str) -> bool:
        """Remove a job and everything recorded about it; False when there was none."""
        with self._write() as conn:
            deleted = conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount
            for table in ("tasks", "instances", "attempts", "events"):
                conn.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))
        return deleted > 0

    def use_nonce(self, nonce: str, *, expires: float, now: float) -> bool:
        """Record a request signature's nonce until `expires`; False when it is recorded
        already (a replay). Nonces whose time has passed are forgotten on the way."""
        with self._write() as conn:
            conn.execute("DELETE FROM signature_nonces WHERE expires < ?", (now,))
            inserted = conn.execute(
                "INSERT OR IGNORE INTO signature_nonces (nonce, expires) VALUES (?, ?)",
                (nonce, expires),
            ).rowcount
        return inserted > 0

    # -- reads ------------------------------------------------------------------------

    def _counts(self, table: str, where: str, args: Sequence[Any]) -> Counts:
        rows = self._conn().execute(
            f"SELECT state, COUNT(*) AS n FROM {table} WHERE {where} GROUP BY state", args
        )
        return Counts({State(row["state"]): row["n"] for row in rows})

    def _job(self, row: sqlite3.Row) -> JobRecord:
        return _from_row(
            JobRecord,
            row,
            state=State(row["state"]),
            task_counts=self._counts("tasks", "job_id = ?", (row["id"],)),
            instance_counts=instance_rows.instance_counts(self._conn(), row["id"]),
        )

    def get_job(self, job_id: str) -> JobRecord | None:
        row = self._conn().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def job_ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        """At most `limit` job ids beginning with `prefix` (any case), newest first."""
        return [row["id"] for row in jobs_by_id_prefix(self._conn(), "id", prefix, limit)]

    def job_for_token(self, token: str) -> tuple[str, str] | None:
        """(job id, body digest) of the job created with this IdempotentToken."""
        row = (
            self._conn()
            .execute("SELECT id, body_digest FROM jobs WHERE idempotent_token = ?", (token,))
            .fetchone()
        )
        return (row["id"], row["body_digest"]) if row else None

    def job_body(self, job_id: str) -> dict[str, Any] | None:
        """The submitted description, as it was sent."""
        row = self._conn().execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(json.loads(row["body"])) if row else None

    def list_jobs(
        self,
        *,
        states: Iterable[State] = (),
        cluster_id: str = "",
        marker: str = "",
        max_items: int = 100,
        oldest_first: bool = False,
    ) -> Page[JobRecord]:
        """Jobs, newest first unless `oldest_first`; `marker` is a previous NextMarker.

        Raises ValueError for a marker this store did not issue.
        """
        where, args = ["1"], list[Any]()
        _filter_states(where, args, "state", states)
        if cluster_id:
            where.append("cluster_ids LIKE ?")
            args.append(f"%,{cluster_id},%")
        if marker:
            where.append("seq >= ?" if oldest_first else "seq <= ?")
            args.append(_marker_number(marker))
        order = "ASC" if oldest_first else "DESC"
        rows = (
            self._conn()
            .execute(
                f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT ?",
                (*args, _sql_limit(max_items)),
            )
            .fetchall()
        )
        next_marker = str(rows[max_items]["seq"]) if len(rows) > max_items else ""
        return Page(tuple(self._job(row) for row in rows[:max_items]), next_marker)

    def _task(self, row: sqlite3.Row) -> TaskRecord:
        return _from_row(
            TaskRecord,
            row,
            state=State(row["state"]),
            idle_state=State(row["idle_state"]),
            instance_counts=instance_rows.instance_counts(self._conn(), row["job_id"], row["name"]),
        )

    def get_task(self, job_id: str, task_name: str) -> TaskRecord | None:
        row = (
            self._conn()
            .execute("SELECT * FROM tasks WHERE job_id = ? AND name = ?", (job_id, task_name))
            .fetchone()
        )
        return self._task(row) if row else None

    def list_tasks(
        self, job_id: str, *, marker: str = "", max_items: int | None = 100
    ) -> Page[TaskRecord]:
        """Tasks in the order of the submitted DAG (all when `max_items` is None); the marker
        is a task name."""
        start = 0
        if marker:
            row = (
                self._conn()
                .execute("SELECT pos FROM tasks WHERE job_id = ? AND name = ?", (job_id, marker))
                .fetchone()
            )
            if row is None:
                raise ValueError(f"unknown marker {marker!r}")
            start = row["pos"]
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM tasks WHERE job_id = ? AND pos >= ? ORDER BY pos LIMIT ?",
                (job_id, start, _sql_limit(max_items)),
            )
            .fetchall()
        )
        more = max_items is not None and len(rows) > max_items
        next_marker = rows[-1]["name"] if more else ""
        return Page(tuple(self._task(row) for row in rows[:max_items]), next_marker)

    def get_instance(self, job_id: str, task_name: str, instance_id: int) -> InstanceRecord | None:
        """The instance (an idle one as it stands: `instance_rows`), None if it is none."""
        return instance_rows.get_instance(self._conn(), job_id, task_name, instance_id)

    def list_instances(
        self,
        job_id: str,
        task_name: str | None = None,
        *,
        states: Iterable[State] = (),
        marker: str = "",
        max_items: int | None = 100,
        recorded_only: bool = False,
    ) -> Page[InstanceRecord]:
        """Instances by task order then id; the marker is an instance id (one task only).

        `recorded_only`: leave out the idle instances nothing happened to yet.
        """
        return instance_rows.list_instances(
            self._conn(),
            job_id,
            task_name,
            states=states,
            start=_marker_number(marker) if marker else 0,
            max_items=max_items,
            recorded_only=recorded_only,
        )

    def attempts(self, job_id: str, task_name: str, instance_id: int) -> list[AttemptRecord]:
        rows = self._conn().execute(
            "SELECT * FROM attempts WHERE job_id = ? AND task_name = ? AND instance_id = ?"
            " ORDER BY run, attempt",
            (job_id, task_name, instance_id),
        )
        return [_attempt(row) for row in rows]

    def job_attempts(self, job_id: str) -> list[AttemptRecord]:
        """Every attempt of the job, of every run, by task order, instance, run, attempt
        (one query: what a report of a thousand instances reads)."""
        rows = self._conn().execute(
            "SELECT a.* FROM attempts a LEFT JOIN tasks t"
            " ON t.job_id = a.job_id AND t.name = a.task_name"
            " WHERE a.job_id = ? ORDER BY t.pos, a.instance_id, a.run, a.attempt",
            (job_id,),
        )
        return [_attempt(row) for row in rows]

    def events(self, job_id: str, *, after: int = 0) -> list[EventRecord]:
        """The job's recorded events in order, those after position `after` only."""
        rows = self._conn().execute(
            "SELECT seq, job_id, name, payload FROM events WHERE job_id = ? AND seq > ?"
            " ORDER BY seq",
            (job_id, after),
        )
        return [
            EventRecord(row["seq"], row["job_id"], row["name"], json.loads(row["payload"]))
            for row in rows
        ]

    def unfinished_jobs(self) -> list[JobRecord]:
        """Jobs recorded Waiting or Running (what a restart must reconcile), oldest first."""
        rows = self._conn().execute(
            "SELECT * FROM jobs WHERE state IN (?, ?) ORDER BY seq",
            (State.WAITING.value, State.RUNNING.value),
        )
        return [self._job(row) for row in rows]

    def job_count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


R = TypeVar("R")


def usage_row(usage: ResourceUsage | None) -> tuple[Any, ...]:
    """An attempt's usage as the values of USAGE_COLUMNS (all None when not known yet)."""
    if usage is None:
        return (None,) * len(USAGE_COLUMNS)
    oom = None if usage.oom_killed is None else int(usage.oom_killed)
    return (
        usage.source,
        usage.peak_memory_bytes,
        usage.cpu_seconds,
        oom,
        usage.throttled_seconds,
        usage.memory_limit_bytes,
        usage.cpu_limit_cores,
        usage.note,
    )


def _usage(row: sqlite3.Row) -> ResourceUsage | None:
    if row["usage_source"] is None:
        return None
    oom = row["oom_killed"]
    return ResourceUsage(
        source=row["usage_source"],
        peak_memory_bytes=row["peak_memory_bytes"],
        cpu_seconds=row["cpu_seconds"],
        oom_killed=None if oom is None else bool(oom),
        throttled_seconds=row["throttled_seconds"],
        memory_limit_bytes=row["memory_limit_bytes"],
        cpu_limit_cores=row["cpu_limit_cores"],
        note=row["usage_note"] or "",
    )


def _attempt(row: sqlite3.Row) -> AttemptRecord:
    return _from_row(
        AttemptRecord,
        row,
        state=State(row["state"]),
        usage=_usage(row),
        capacity_wait_reason=row["capacity_wait_reason"] or "",
    )


def _from_row(cls: type[R], row: sqlite3.Row, **computed: Any) -> R:
    """Build a record whose field names are the row's column names, plus computed fields."""
    names = [f.name for f in fields(cls) if f.name not in computed]  # type: ignore[arg-type]
    return cls(**{name: row[name] for name in names}, **computed)


def _sql_limit(max_items: int | None) -> int:
    """One row more than a page holds, to know whether another follows; -1 is no limit."""
    return -1 if max_items is None else max_items + 1


def _filter_states(where: list[str], args: list[Any], column: str, states: Iterable[State]) -> None:
    wanted = [state.value for state in states]
    if wanted:
        where.append(f"{column} IN ({','.join('?' * len(wanted))})")
        args.extend(wanted)


#: A marker this store issues: a row number or instance id, ASCII digits, fits SQLite's int64.
_MARKER = re.compile(r"[0-9]{1,18}")


def _marker_number(marker: str) -> int:
    if not _MARKER.fullmatch(marker):
        raise ValueError(f"unknown marker {marker!r}")
    return int(marker)
