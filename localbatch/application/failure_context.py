"""Why an instance failed, gathered once for every surface that explains a failure: the
summary `localbatch run` prints, and the run report.

For each instance that failed (or ended with an error other than a stop), its last
attempt's error code and message, exit code, and the last lines it wrote to stderr (to
stdout when its stderr is empty) are read from the store's records (or the engine's
snapshot, for a job AutoRelease has already deleted) and from the instance's log files,
with the real paths of those files and of the log objects.

The lines are the program's own bytes, decoded (invalid UTF-8 as `\\xNN`): hostile. Each
surface escapes them for where it shows them (a terminal, HTML).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from localbatch.engine.records import InstanceSnapshot, JobSnapshot
from localbatch.events import EventDetail
from localbatch.runtime.base import STOPPED_ERROR_CODE
from localbatch.states import State
from localbatch.storage.layout import job_dir, log_file_name, logs_dir
from localbatch.storage.log_tail import last_lines
from localbatch.store import Store
from localbatch.store.records import AttemptRecord, InstanceRecord

#: Lines of output shown for a failed instance (read by `storage.log_tail`).
TAIL_LINES = 20


@dataclass(frozen=True)
class FailureContext:
    """What explains one failed instance."""

    task_name: str
    instance_id: int
    state: State
    #: Its last attempt (0-based) and how many it had in this run.
    attempt: int | None
    attempts: int
    error_code: str
    error_message: str
    exit_code: int | None
    #: "stderr", or "stdout" when its last attempt wrote nothing to stderr ("" when it
    #: wrote nothing at all), and the last lines of it (hostile: escape before showing).
    tail_stream: str
    tail: tuple[str, ...]
    stdout_path: Path
    stderr_path: Path
    #: The log objects (Stdout/StderrRedirectPath), "" when the job names none.
    stdout_object: str
    stderr_object: str
    #: Logs or outputs that could not be pushed after the attempt.
    storage_error: str

    def logs_command(self, job_id: str) -> list[str]:
        """The command that shows all its output (add `--stderr` for standard error)."""
        return ["localbatch", "logs", job_id, self.task_name, str(self.instance_id)]


def failed(state: State, error_code: str) -> bool:
    """Whether an instance needs explaining: it failed, or ended with an error other than a
    stop (a stopped instance was stopped, it did not fail)."""
    return state == State.FAILED or error_code not in ("", STOPPED_ERROR_CODE)


def failure_contexts(store: Store, state_dir: Path, job_id: str) -> list[FailureContext]:
    """The failed instances of a recorded job, in task and instance order."""
    contexts = []
    for task in store.list_tasks(job_id, max_items=None).items:
        for instance in store.list_instances(job_id, task.name, max_items=None).items:
            if failed(instance.state, instance.error_code):
                attempts = store.attempts(job_id, task.name, instance.instance_id)
                contexts.append(_from_record(state_dir, instance, attempts))
    return contexts


def failure_contexts_of_snapshot(snapshot: JobSnapshot, state_dir: Path) -> list[FailureContext]:
    """The failed instances of a job as the engine last saw it (also once AutoRelease has
    deleted it from the store)."""
    return [
        _from_snapshot(state_dir, snapshot.job_id, task.name, instance)
        for task in snapshot.tasks
        for instance in task.instances
        if failed(instance.state, instance.error_code)
    ]


def _from_record(
    state_dir: Path, instance: InstanceRecord, attempts: Sequence[AttemptRecord]
) -> FailureContext:
    run = max((a.run for a in attempts), default=0)
    this_run = [a for a in attempts if a.run == run]
    last = this_run[-1] if this_run else None
    return _context(
        state_dir,
        instance.job_id,
        instance.task_name,
        instance.instance_id,
        instance.state,
        instance.detail,
        last.attempt if last else instance.attempt,
        len(this_run),
        (instance.error_code, instance.error_message, instance.exit_code),
        (last.stdout_offset, last.stderr_offset) if last else (None, None),
    )


def _from_snapshot(
    state_dir: Path, job_id: str, task_name: str, instance: InstanceSnapshot
) -> FailureContext:
    last = instance.attempts[-1] if instance.attempts else None
    return _context(
        state_dir,
        job_id,
        task_name,
        instance.instance_id,
        instance.state,
        instance.detail,
        last.attempt if last else None,
        len(instance.attempts),
        (instance.error_code, instance.error_message, instance.exit_code),
        (last.stdout_offset, last.stderr_offset) if last else (None, None),
    )


def _context(
    state_dir: Path,
    job_id: str,
    task_name: str,
    instance_id: int,
    state: State,
    detail: EventDetail,
    attempt: int | None,
    attempts: int,
    ending: tuple[str, str, int | None],
    offsets: tuple[int | None, int | None],
) -> FailureContext:
    paths = {
        stream: Path(str(detail.get(f"{stream}_path")))
        if detail.get(f"{stream}_path")
        else logs_dir(job_dir(state_dir, job_id)) / log_file_name(task_name, instance_id, stream)
        for stream in ("stdout", "stderr")
    }
    tail_stream, tail = "", tuple[str, ...]()
    for stream, offset in (("stderr", offsets[1]), ("stdout", offsets[0])):
        lines = last_lines(paths[stream], TAIL_LINES, offset) if offset is not None else ()
        if lines:
            tail_stream, tail = stream, lines
            break
    error_code, error_message, exit_code = ending
    return FailureContext(
        task_name=task_name,
        instance_id=instance_id,
        state=state,
        attempt=attempt,
        attempts=attempts,
        error_code=error_code,
        error_message=error_message,
        exit_code=exit_code,
        tail_stream=tail_stream,
        tail=tail,
        stdout_path=paths["stdout"],
        stderr_path=paths["stderr"],
        stdout_object=str(detail.get("stdout_object", "")),
        stderr_object=str(detail.get("stderr_object", "")),
        storage_error=str(detail.get("storage_error", "")),
    )
