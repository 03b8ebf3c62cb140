"""What `localbatch run` shows while a job runs and when it ends.

On a terminal: a live table per task (instances waiting / running / finished / failed,
retries, elapsed), drawn below the program output (`run_output.TerminalScreen`), with how
many instances of each task can run at once here and how many wait for capacity, and the
images being prepared on first use (for the sandbox, or brought into the Docker engine).
Otherwise: one plain line per event (and per image preparation begun and ended), for logs
and CI. At the end: a summary table, and for each failed instance why
(`application.failure_context`). Both displays are event listeners: quick, and they never
touch the engine.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from localbatch.cli.run_output import TerminalScreen
from localbatch.cli.terminal_text import safe_text
from localbatch.events import CAPACITY_WAIT_EVENT, Event
from localbatch.states import State
from localbatch.timefmt import api_time

if TYPE_CHECKING:
    from localbatch.application.failure_context import FailureContext
    from localbatch.engine.records import InstanceSnapshot, JobSnapshot, TaskSnapshot
    from localbatch.runtime.image_supply import ImagePreparation


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


class Writer(Protocol):
    """Where plain lines go: a text stream, or a screen shared with program output."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class PlainProgress:
    """One line per event (instance waits are shown only when they are retries or waits
    for capacity).

    Tasks in `not_run` (left out by --only) get one "not run" line, no instance lines.
    """

    def __init__(self, out: Writer, not_run: Collection[str] = ()) -> None:
        self.out = out
        self.not_run = frozenset(not_run)
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.name == CAPACITY_WAIT_EVENT:
            wait = event.detail.get("capacity_wait")
            why = f" ({wait['reason']})" if wait else ""
            if event.batch is not None:
                who = f"instances {event.task_name}.* ({event.batch.size()})"
            else:
                who = f"instance {event.task_name}.{event.instance_id}"
            self._print(event, f"{who} waiting for capacity{why}")
            return
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

    def preparation(self, preparation: ImagePreparation) -> None:
        """An image being prepared on first use: a line as it begins and as it ends
        (`TellsPreparation`)."""
        self._write(time.time(), preparation.line())

    def _print(self, event: Event, line: str) -> None:
        self._write(event.time, line)

    def _write(self, moment: float, line: str) -> None:
        stamp = datetime.fromtimestamp(moment).strftime("%H:%M:%S")
        with self._lock:  # one write: a line never mixes with program output
            self.out.write(f"{stamp} {safe_text(line)}\n")
            self.out.flush()


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
        #: Ready instances held back for capacity (or waiting for a cluster's node), and
        #: the latest reason given.
        self.held: set[int] = set()
        self.held_reason = ""
        self.retries = 0
        self.start: float | None = None
        self.end: float | None = None

    def instance_changed(self, instance_id: int, state: State) -> None:
        """Move one instance between the counts (events carry states, not deltas)."""
        self.instances[self.instance_states.get(instance_id, State.WAITING)] -= 1
        self.instances[state] += 1
        self.instance_states[instance_id] = state


#: Lines under the live table saying how many instances of a task run at once, at most.
CAPACITY_LINES = 6


class LiveProgress:
    """A live table of the tasks, updated from events, redrawn a few times a second below
    the program output (`screen`)."""

    def __init__(
        self,
        console: Console,
        instance_counts: Mapping[str, int],
        not_run: Collection[str] = (),
        concurrency: Mapping[str, str] | None = None,
        *,
        capacity: str = "",
    ) -> None:
        self.rows = {name: _TaskRow(name, n) for name, n in instance_counts.items()}
        #: What can run at once ("swarm of 2 nodes (...); 4 cores, 8 GiB in all").
        self.capacity = capacity
        #: Tasks left out by --only: shown as not run, not as stopped instances.
        self.not_run = frozenset(not_run)
        #: Per task: "1 at a time: ecs.sn1.medium needs 2 cores, this host has 2".
        self.concurrency = dict(concurrency or {})
        self.job_state = State.WAITING
        #: Images being prepared now -> as it began, and since when (monotonic).
        self.preparing: dict[str, tuple[ImagePreparation, float]] = {}
        self.screen = TerminalScreen(console, self.render)

    def preparation(self, preparation: ImagePreparation) -> None:
        """An image being prepared on first use: a line above the table as it begins and as
        it ends, and under the table meanwhile for how long it has taken
        (`TellsPreparation`)."""
        if preparation.seconds is None:
            self.preparing[preparation.image] = (preparation, time.monotonic())
        else:
            self.preparing.pop(preparation.image, None)
        self.screen.write(safe_text(preparation.line()) + "\n")

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
        elif event.name == CAPACITY_WAIT_EVENT:
            ids = event.batch.ids() if event.batch is not None else (event.instance_id,)
            row.held.update(i for i in ids if i is not None)
            wait = event.detail.get("capacity_wait")
            row.held_reason = wait["reason"] if wait else row.held_reason
        elif event.batch is not None:
            for instance_id in event.batch.ids():
                row.held.discard(instance_id)
                row.instance_changed(instance_id, event.state)
        elif event.instance_id is not None:
            row.held.discard(event.instance_id)
            row.instance_changed(event.instance_id, event.state)
            if event.state == State.WAITING and event.retry_count:
                row.retries += 1

    def render(self) -> Group:
        """The table as it is now, and under it the capacity (with `capacity`) and how many
        instances of each task run at once there; the screen calls it on each refresh, off
        the engine thread."""
        table = self._table()
        below = [f"capacity: {self.capacity}"] if self.capacity else []
        lines = [
            Text(line, style="dim", overflow="ellipsis", no_wrap=True)
            for line in [*self._preparing_lines(), *below, *self._capacity_lines()]
        ]
        return Group(table, *lines)

    def _preparing_lines(self) -> list[str]:
        now = time.monotonic()
        return [
            safe_text(preparation.under_way(now - since))
            for preparation, since in list(self.preparing.values())
        ]

    def _table(self) -> Table:
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

    def _capacity_lines(self) -> list[str]:
        """How many instances of each unfinished task run at once here, and how many wait
        for capacity and why (the tasks that are running or holding instances back first)."""
        lines = []
        for row in sorted(self.rows.values(), key=lambda r: (not r.held, r.state != State.RUNNING)):
            if row.name in self.not_run or row.state.terminal or row.name not in self.concurrency:
                continue
            line = f"{row.name}: {self.concurrency[row.name]}"
            if row.held:
                line += f"; {len(row.held)} waiting for capacity"
                line += f" ({row.held_reason})" if row.held_reason else ""
            lines.append(line)
        return lines[:CAPACITY_LINES]

    def __enter__(self) -> LiveProgress:
        self.screen.__enter__()
        return self

    def __exit__(self, *_: object) -> None:
        self.screen.__exit__()


def _instances_text(task: TaskSnapshot, not_run: Collection[str]) -> str:
    if task.name in not_run:
        return NOT_RUN
    m = task.metrics
    total = len(task.instances)
    parts = [f"{m.finished}/{total} finished"]
    parts += [f"{n} {what}" for n, what in ((m.failed, "failed"), (m.stopped, "stopped")) if n]
    return ", ".join(parts)


def print_summary(
    console: Console,
    snapshot: JobSnapshot,
    logs_dir: Path,
    failures: Sequence[FailureContext] = (),
    not_run: Collection[str] = (),
    logs_command: Callable[[str, int], str] | None = None,
) -> None:
    """The final table, then for each failed instance why (`failure_lines`), and where the
    logs are.

    Tasks in `not_run` (left out by --only) keep their recorded state; their instances
    column says they were not run. `logs_command(task, instance)` is how `localbatch logs`
    shows an instance's output (None when the job is no longer in the store).
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
        console.print(safe_text(snapshot.message), markup=False, soft_wrap=True)
    for failure in failures:
        for line in failure_lines(failure, logs_command):
            console.print(line, markup=False, soft_wrap=True, highlight=False)
    console.print(
        f"logs: {logs_dir.absolute()}/<task>.<instance>.stdout|stderr",
        markup=False,
        soft_wrap=True,
    )
    for folder in _oss_log_folders(snapshot):
        console.print(
            f"logs on OSS: {folder}stdout|stderr.{snapshot.job_id}.<task>.<instance>",
            markup=False,
            soft_wrap=True,
        )


def failure_lines(
    failure: FailureContext, logs_command: Callable[[str, int], str] | None = None
) -> list[str]:
    """What explains one failed instance: its error and exit code, the last lines it wrote
    (escaped: they are the program's), its log files and the command that shows them."""
    what = []
    if failure.error_code:
        what.append(_error(failure.error_code, failure.error_message))
    if failure.exit_code is not None:
        what.append(f"exit code {failure.exit_code}")
    retries = failure.attempts - 1
    after = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries > 0 else ""
    name = f"{failure.task_name}.{failure.instance_id}"
    lines = [f"{name} {failure.state}{after}: {safe_text('; '.join(what) or 'no exit code')}"]
    if failure.tail:
        count = "line" if len(failure.tail) == 1 else f"{len(failure.tail)} lines"
        lines.append(f"  the last {count} of its {failure.tail_stream}:")
        lines += [f"  {failure.tail_stream[3:]}| {safe_text(line)}" for line in failure.tail]
    else:
        lines.append("  (its last attempt wrote nothing)")
    if failure.storage_error:
        lines.append(f"  after it: {safe_text(failure.storage_error)}")
    lines.append(f"  stdout: {failure.stdout_path.absolute()}")
    lines.append(f"  stderr: {failure.stderr_path.absolute()}")
    for key, url in (("stdout", failure.stdout_object), ("stderr", failure.stderr_object)):
        if url:
            lines.append(f"  {key} on OSS: {url}")
    if logs_command is not None:
        command = logs_command(failure.task_name, failure.instance_id)
        lines.append(f"  all of it: {command} (and with --stderr, its stderr)")
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
