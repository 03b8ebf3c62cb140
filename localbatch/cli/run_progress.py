"""What `localbatch run` shows while a job runs and when it ends.

On a terminal: a live table per task (instances waiting / running / finished / failed,
retries, elapsed). Otherwise: one plain line per event, for logs and CI. At the end: a
summary table and where the logs are. Both displays are event listeners: quick, and they
never touch the engine.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from localbatch.events import Event
from localbatch.runtime.base import STOPPED_ERROR_CODE
from localbatch.states import State
from localbatch.timefmt import api_time

if TYPE_CHECKING:
    from localbatch.engine.records import InstanceSnapshot, JobSnapshot, TaskSnapshot


def _duration(start: float | None, end: float | None, now: float | None = None) -> str:
    if start is None:
        return "-"
    seconds = max(0.0, (end if end is not None else (now or time.time())) - start)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _error(code: str, message: str | None) -> str:
    """`Code: message`, the way the service words an instance's error."""
    return f"{code}: {message}" if message else code


#: How a task left out by `run --only` is shown: the engine records it Stopped, but
#: "Stopped, 1 stopped" would read as if it had been interrupted.
NOT_RUN = "not run (--only)"


class PlainProgress:
    """One line per event (instance waits are shown only when they are retries).

    Tasks in `not_run` (left out by --only) get one "not run" line, no instance lines.
    """

    def __init__(self, out: TextIO, not_run: Collection[str] = ()) -> None:
        self.out = out
        self.not_run = frozenset(not_run)
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.category == "Instance" and event.state == State.WAITING and not event.retry_count:
            return
        if event.task_name in self.not_run and event.category != "Job":
            if event.category == "Task" and event.state.terminal:
                self._print(event, f"task {event.task_name} {NOT_RUN}")
            return
        if event.category == "Job":
            line = f"job {event.job_id} {event.state}"
            if event.detail.get("message"):
                line += f": {event.detail['message']}"
        elif event.category == "Task":
            line = f"task {event.task_name} {event.state}"
        elif event.batch is not None:
            never = " (never started)" if event.state == State.STOPPED else ""
            line = f"instances {event.task_name}.* {event.state}: {event.batch.size()}{never}"
        else:
            line = _instance_line(event)
        self._print(event, line)

    def _print(self, event: Event, line: str) -> None:
        stamp = datetime.fromtimestamp(event.time).strftime("%H:%M:%S")
        with self._lock:
            print(f"{stamp} {line}", file=self.out, flush=True)


def _instance_line(event: Event) -> str:
    """An instance event: a retry says what caused it, an end its exit code and error."""
    line = f"instance {event.task_name}.{event.instance_id} {event.state}"
    exited = f"exit {event.exit_code}" if event.exit_code is not None else ""
    if event.state == State.WAITING:
        cause = event.error_code or exited or "an error"
        line += f" (retry {event.retry_count} after {cause})"
    elif event.state in (State.FAILED, State.STOPPED, State.FINISHED):
        # An instance that never ran its program has no exit code to show.
        line += f" {exited}" if exited else ""
        if event.error_code:
            line += f" {_error(event.error_code, event.error_message)}"
    return line


class _TaskRow:
    """One line of the live table, kept from events (the display never asks the engine)."""

    def __init__(self, name: str, instance_count: int) -> None:
        self.name = name
        self.state = State.WAITING
        self.instances: Counter[State] = Counter({State.WAITING: instance_count})
        self.instance_states: dict[int, State] = {}
        self.retries = 0
        self.start: float | None = None
        self.end: float | None = None

    def instance_changed(self, instance_id: int, state: State) -> None:
        """Move one instance between the counts (events carry states, not deltas)."""
        self.instances[self.instance_states.get(instance_id, State.WAITING)] -= 1
        self.instances[state] += 1
        self.instance_states[instance_id] = state


class LiveProgress:
    """A rich live table of the tasks, updated from events, redrawn a few times a second."""

    def __init__(
        self,
        console: Console,
        instance_counts: Mapping[str, int],
        not_run: Collection[str] = (),
    ) -> None:
        self.rows = {name: _TaskRow(name, n) for name, n in instance_counts.items()}
        #: Tasks left out by --only: shown as not run, not as stopped instances.
        self.not_run = frozenset(not_run)
        self.job_state = State.WAITING
        self.live = Live(get_renderable=self.render, console=console, refresh_per_second=4)

    def __call__(self, event: Event) -> None:
        if event.category == "Job":
            self.job_state = event.state
            return
        row = self.rows.get(event.task_name or "")
        if row is None:
            return
        if event.category == "Task":
            row.state = event.state
            row.start, row.end = event.start_time, event.end_time
        elif event.batch is not None:
            for instance_id in event.batch.ids():
                row.instance_changed(instance_id, event.state)
        elif event.instance_id is not None:
            row.instance_changed(event.instance_id, event.state)
            if event.state == State.WAITING and event.retry_count:
                row.retries += 1

    def render(self) -> Table:
        """The table as it is now; `Live` calls it on each refresh, off the engine thread."""
        table = Table(title=f"job {self.job_state}", title_justify="left")
        if self.not_run:
            table.caption = "not run: left out by --only"
            table.caption_justify = "left"
        table.add_column("task")
        table.add_column("state")
        # Short headers: every instance is counted in one column (stopped ones too) and the
        # table still fits 80 columns.
        for column in ("wait", "run", "done", "failed", "stopped", "retries", "elapsed"):
            table.add_column(column, justify="right")
        for row in list(self.rows.values()):
            if row.name in self.not_run:
                table.add_row(row.name, "not run", *("-" * 7))
                continue
            counts = row.instances
            table.add_row(
                row.name,
                str(row.state),
                str(counts[State.WAITING]),
                str(counts[State.RUNNING]),
                str(counts[State.FINISHED]),
                str(counts[State.FAILED]),
                str(counts[State.STOPPED]),
                str(row.retries),
                _duration(row.start, row.end),
            )
        return table

    def __enter__(self) -> LiveProgress:
        self.live.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.live.stop()


def _instances_text(task: TaskSnapshot, not_run: Collection[str]) -> str:
    if task.name in not_run:
        return NOT_RUN
    m = task.metrics
    total = len(task.instances)
    parts = [f"{m.finished}/{total} finished"]
    parts += [f"{n} {what}" for n, what in ((m.failed, "failed"), (m.stopped, "stopped")) if n]
    return ", ".join(parts)


def print_summary(
    console: Console, snapshot: JobSnapshot, logs_dir: Path, not_run: Collection[str] = ()
) -> None:
    """The final table, the failures with their error codes, and where the logs are.

    Tasks in `not_run` (left out by --only) keep their recorded state; their instances
    column says they were not run.
    """
    console.print(f"job {snapshot.job_id} ({snapshot.name}): {snapshot.state}", soft_wrap=True)
    table = Table()
    for column in ("task", "state", "instances", "retries", "duration"):
        table.add_column(column)
    for task in snapshot.tasks:
        table.add_row(
            task.name,
            str(task.state),
            _instances_text(task, not_run),
            str(task.retries),
            _duration(task.start_time, task.end_time),
        )
    console.print(table)
    if snapshot.message:
        console.print(snapshot.message, markup=False, soft_wrap=True)
    for line in _failure_lines(snapshot):
        console.print(line, markup=False, soft_wrap=True)
    console.print(f"logs: {logs_dir}/<task>.<instance>.stdout|stderr", markup=False, soft_wrap=True)
    for folder in _oss_log_folders(snapshot):
        console.print(
            f"logs on OSS: {folder}stdout|stderr.{snapshot.job_id}.<task>.<instance>",
            markup=False,
            soft_wrap=True,
        )


def _failure_lines(snapshot: JobSnapshot) -> list[str]:
    """One line per instance that failed or ended with an error other than a stop: the
    user sees why without opening the logs."""
    lines = []
    for task in snapshot.tasks:
        for inst in task.instances:
            if inst.state == State.FAILED or inst.error_code not in ("", STOPPED_ERROR_CODE):
                what = (
                    _error(inst.error_code, inst.error_message)
                    if inst.error_code
                    else f"exit code {inst.exit_code}"
                )
                lines.append(f"{task.name}.{inst.instance_id} {inst.state}: {what}")
    return lines


def _oss_log_folders(snapshot: JobSnapshot) -> list[str]:
    """The OSS folders the instances' logs were uploaded to (LogMapping), each once."""
    return sorted(
        {
            str(inst.detail[key]).rsplit("/", 1)[0] + "/"
            for task in snapshot.tasks
            for inst in task.instances
            for key in ("stdout_object", "stderr_object")
            if inst.detail.get(key)
        }
    )


def _instance_json(task: str, inst: InstanceSnapshot, logs_dir: Path) -> dict[str, object]:
    return {
        "InstanceId": inst.instance_id,
        "State": inst.state.value,
        "RetryCount": inst.retry_count,
        "StartTime": api_time(inst.start_time),
        "EndTime": api_time(inst.end_time),
        "ExitCode": inst.exit_code,
        "ErrorCode": inst.error_code,
        "ErrorMessage": inst.error_message,
        "StdoutLog": str(logs_dir / f"{task}.{inst.instance_id}.stdout"),
        "StderrLog": str(logs_dir / f"{task}.{inst.instance_id}.stderr"),
    }


def summary_json(
    snapshot: JobSnapshot, logs_dir: Path, not_run: Collection[str], exit_status: int
) -> dict[str, object]:
    """`run --json` / `start --json`: what the summary table says, for scripts."""
    return {
        "JobId": snapshot.job_id,
        "JobName": snapshot.name,
        "State": snapshot.state.value,
        "Message": snapshot.message,
        "ExitStatus": exit_status,
        "StartTime": api_time(snapshot.start_time),
        "EndTime": api_time(snapshot.end_time),
        "InstanceMetrics": snapshot.instance_metrics.as_api(),
        "Tasks": [
            {
                "TaskName": task.name,
                "State": task.state.value,
                "NotRun": task.name in not_run,
                "Retries": task.retries,
                "StartTime": api_time(task.start_time),
                "EndTime": api_time(task.end_time),
                "InstanceMetrics": task.metrics.as_api(),
                "Instances": [_instance_json(task.name, i, logs_dir) for i in task.instances],
            }
            for task in snapshot.tasks
        ],
        "LogsDir": str(logs_dir),
        "OssLogFolders": _oss_log_folders(snapshot),
    }
