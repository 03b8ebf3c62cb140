"""Tables and JSON for the job commands: the same records the HTTP API shapes, for humans.

`--json` prints exactly the API's shapes (one object, or `{"Items": [...]}`), so scripts
written against the service read them unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from localbatch.report.json_view import usage_json
from localbatch.states import State
from localbatch.store import runner_alive
from localbatch.store.records import (
    AttemptRecord,
    Counts,
    InstanceRecord,
    JobRecord,
    TaskRecord,
)
from localbatch.timefmt import api_time

#: Width of tables written to a pipe or file (a terminal's own width is used otherwise).
PIPE_WIDTH = 200


def console() -> Console:
    """stdout for tables: never squeezed to 80 columns when it is not a terminal."""
    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=PIPE_WIDTH)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def local_time(moment: float | None) -> str:
    return datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def short_time(moment: float | None) -> str:
    """Minutes are enough to tell jobs apart in a list; `status` shows the seconds."""
    return datetime.fromtimestamp(moment).strftime("%m-%d %H:%M") if moment else "-"


def duration(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    seconds = max(0.0, (end if end is not None else time.time()) - start)
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}m{secs:04.1f}s" if minutes else f"{secs:.1f}s"


def job_state(record: JobRecord) -> str:
    """The state, flagged when the process that ran an unfinished job is gone."""
    if not record.state.terminal and not runner_alive(record.runner):
        return f"{record.state} (runner gone)"
    return str(record.state)


def counts(values: Counts) -> str:
    """ "3/5 finished, 1 failed" style summary of a metrics object."""
    total = sum(values.by_state.values())
    parts = [f"{values.of(State.FINISHED)}/{total} finished"]
    parts += [
        f"{values.of(state)} {state.value.lower()}"
        for state in (State.RUNNING, State.FAILED, State.STOPPED)
        if values.of(state)
    ]
    return ", ".join(parts)


def short_counts(values: Counts) -> str:
    """ "3/5": finished of all, short enough for a one-line list (`status` has the rest)."""
    return f"{values.of(State.FINISHED)}/{sum(values.by_state.values())}"


#: Columns of the job list left out, in this order, when the terminal is too narrow.
OPTIONAL_JOB_COLUMNS = ("CREATED", "PRIO")


def jobs_table(records: Iterable[JobRecord], hide: Iterable[str] = ()) -> Table:
    """One line a job, with every column but those in `hide`."""
    hidden = set(hide)
    rows = [
        {
            "JOB": record.id,
            "NAME": record.name,
            "STATE": job_state(record),
            "PRIO": str(record.priority),
            "TASKS": short_counts(record.task_counts),
            "INSTANCES": short_counts(record.instance_counts),
            "CREATED": short_time(record.creation_time),
        }
        for record in records
    ]
    table = Table(box=None, pad_edge=False)
    columns = [c for c in ("JOB", "NAME", "STATE", "PRIO", "TASKS", "INSTANCES", "CREATED")]
    for column in (c for c in columns if c not in hidden):
        table.add_column(column, no_wrap=column != "NAME", overflow="fold")
    for row in rows:
        table.add_row(*(row[c] for c in columns if c not in hidden))
    return table


def _natural_width(console: Console, table: Table) -> int:
    """The width the table wants (console.measure clamps it to the console's width)."""
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def print_jobs(console: Console, records: Iterable[JobRecord]) -> None:
    """The job list; on a terminal too narrow for all of it, the least needed columns go,
    said in a last line, rather than rich cutting names and states to '…'."""
    items = list(records)
    hidden: list[str] = []
    table = jobs_table(items)
    for column in OPTIONAL_JOB_COLUMNS:
        if _natural_width(console, table) <= console.width:
            break
        hidden.append(column)
        table = jobs_table(items, hidden)
    console.print(table)
    if hidden:
        console.print(
            f"({', '.join(hidden)} left out to fit {console.width} columns; --json has all)"
        )


def print_job(console: Console, record: JobRecord, tasks: Iterable[TaskRecord]) -> None:
    console.print(f"job {record.id} ({record.name}): {job_state(record)}", markup=False)
    console.print(
        f"priority {record.priority}, created {local_time(record.creation_time)}, "
        f"ran {duration(record.start_time, record.end_time)}",
        markup=False,
    )
    if record.message:
        console.print(record.message, markup=False)
    rows = (
        (
            t.name,
            str(t.state),
            counts(t.instance_counts),
            local_time(t.start_time),
            duration(t.start_time, t.end_time),
        )
        for t in tasks
    )
    console.print(_table(("TASK", "STATE", "INSTANCES", "STARTED", "DURATION"), rows))


def _error(code: str, message: str) -> str:
    return f"{code}: {message}" if code else ""


def _exit(code: int | None) -> str:
    return "-" if code is None else str(code)


def _table(columns: Iterable[str], rows: Iterable[Iterable[str]]) -> Table:
    """Long words (paths, URLs in error messages) fold onto the next line, never cut to '…'."""
    table = Table(box=None)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _result_cells(record: InstanceRecord | AttemptRecord) -> tuple[str, str, str, str]:
    """EXIT, STARTED, DURATION and ERROR: the columns instances and attempts share."""
    return (
        _exit(record.exit_code),
        local_time(record.start_time),
        duration(record.start_time, record.end_time),
        _error(record.error_code, record.error_message),
    )


def print_task(console: Console, record: TaskRecord, instances: Iterable[InstanceRecord]) -> None:
    console.print(f"task {record.name}: {record.state}", markup=False)
    columns = ("INSTANCE", "STATE", "RETRIES", "EXIT", "STARTED", "DURATION", "ERROR")
    rows = (
        (
            str(i.instance_id),
            str(i.state),
            str(i.retry_count),
            *_result_cells(i),
        )
        for i in instances
    )
    console.print(_table(columns, rows))


def print_instance(
    console: Console, record: InstanceRecord, attempts: Iterable[AttemptRecord]
) -> None:
    console.print(
        f"instance {record.task_name}.{record.instance_id}: {record.state}, "
        f"{record.retry_count} {'retry' if record.retry_count == 1 else 'retries'}",
        markup=False,
    )
    if record.error_code:
        console.print(_error(record.error_code, record.error_message), markup=False)
    for key in ("stdout_path", "stderr_path", "stdout_object", "stderr_object"):
        if record.detail.get(key):
            console.print(f"{key.replace('_', ' ')}: {record.detail[key]}", markup=False)
    columns = ("RUN", "ATTEMPT", "STATE", "EXIT", "STARTED", "DURATION", "ERROR", "REF")
    rows = (
        (
            str(a.run),
            str(a.attempt),
            str(a.state),
            *_result_cells(a),
            a.ref,
        )
        for a in attempts
    )
    console.print(_table(columns, rows))


def attempt_json(attempt: AttemptRecord) -> Mapping[str, Any]:
    return {
        "Run": attempt.run,
        "Attempt": attempt.attempt,
        "State": attempt.state.value,
        "StartTime": api_time(attempt.start_time),
        "EndTime": api_time(attempt.end_time),
        "ExitCode": attempt.exit_code,
        "ErrorCode": attempt.error_code,
        "ErrorMessage": attempt.error_message,
        "Ref": attempt.ref,
        **usage_json(attempt.usage),
    }
