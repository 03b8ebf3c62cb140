"""One attempt of one instance, from storage preparation to the final upload.

Runs on a worker thread. The order is fixed: prepare the work directory and mappings,
start log streaming, run the program through `run_attempt` (timeout, cancel, release),
then always finish storage (logs, outputs), whatever happened before. A program that exits
0 but whose outputs cannot be uploaded fails with the storage's error code.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from localbatch.config import Config
from localbatch.diskspace import DISK_FULL_CODE, NO_SPACE, cause_of, is_full
from localbatch.engine.environment import TaskEnvironment, attempt_spec
from localbatch.engine.scheduler import Launch
from localbatch.events import EventDetail
from localbatch.runtime.base import (
    STOP_GRACE_SECONDS,
    STOPPED_ERROR_CODE,
    AttemptHandle,
    AttemptOutcome,
    Runtime,
    file_size,
    run_attempt,
    uses_images,
)
from localbatch.spec.model import Job
from localbatch.storage.needs import Need

log = logging.getLogger(__name__)

#: Error code of an attempt that failed because of localbatch itself, not the program.
INTERNAL_ERROR = "InternalError"
INVALID_COMMAND_LINE = "InvalidCommandLine"


class PreparedAttemptLike(Protocol):
    """What `localbatch.storage.instance.PreparedAttempt` offers the engine."""

    workdir: Path
    needs: tuple[Need, ...]
    stdout_path: Path
    stderr_path: Path
    stdout_object: str
    stderr_object: str

    def start_streaming(self) -> None: ...


#: The prepared attempts of one storage: `finish` takes back what its `prepare` gave.
P = TypeVar("P", bound=PreparedAttemptLike)


class JobStorageLike(Protocol[P]):
    """What `localbatch.storage.instance.JobStorage` offers the engine."""

    def prepare(self, task_name: str, instance_id: int, attempt: int) -> P: ...

    def finish(self, prepared: P, *, keep: bool = False) -> None: ...

    def close(self) -> None: ...


#: Opens the storage of one job. The engine never looks inside a prepared attempt beyond
#: `PreparedAttemptLike`; which kind a storage makes is its own (hence Any here).
StorageFactory = Callable[[Config, str, Job, Path], JobStorageLike[Any]]


def failure_outcome(exc: BaseException, default_code: str = INTERNAL_ERROR) -> AttemptOutcome:
    """An exception from storage or a runtime as the attempt's recorded result; running
    out of space anywhere is DiskFull, whatever step it hit."""
    code = getattr(exc, "code", "") or default_code
    message = getattr(exc, "message", "") or f"{type(exc).__name__}: {exc}"
    if cause_of(exc) == NO_SPACE:
        code = DISK_FULL_CODE
    return AttemptOutcome(exit_code=None, error_code=str(code), error_message=str(message))


def disk_full_outcome(outcome: AttemptOutcome, prepared: PreparedAttemptLike) -> AttemptOutcome:
    """A failed attempt whose work directory, logs or writable mounts have no space left
    failed because of it: DiskFull naming the place (its exit code is kept)."""
    if outcome.succeeded or outcome.error_code in (STOPPED_ERROR_CODE, DISK_FULL_CODE):
        return outcome
    places = [prepared.workdir, prepared.stdout_path.parent]
    places += [need.source for need in prepared.needs if not need.read_only]
    full = next((place for place in places if is_full(place)), None)
    if full is None:
        return outcome
    before = outcome.error_code or f"exit code {outcome.exit_code}"
    message = f"{NO_SPACE} on the file system of {full} ({before})"
    return AttemptOutcome(outcome.exit_code, DISK_FULL_CODE, message)


def execute_attempt(
    runtime: Runtime,
    storage: JobStorageLike[P],
    env: TaskEnvironment,
    launch: Launch,
    cancel: threading.Event,
    detail: EventDetail,
    on_started: Callable[[AttemptHandle], None],
    kill: threading.Event | None = None,
    grace: float = STOP_GRACE_SECONDS,
    on_waiting: Callable[[str], None] | None = None,
) -> AttemptOutcome:
    """Prepare, run and finish one attempt; `detail` receives the log paths as they are known.
    A stop gives the program `grace` seconds after SIGTERM; `kill` cuts them short
    (`run_attempt`).

    Never raises for a failure of the program, of storage or of the runtime: each becomes
    the attempt's outcome with its error code.
    """
    if cancel.is_set():
        message = "The instance was stopped before it started."
        return AttemptOutcome(None, STOPPED_ERROR_CODE, message)
    if env.argv_error:
        return AttemptOutcome(None, INVALID_COMMAND_LINE, env.argv_error)
    try:
        prepared = storage.prepare(launch.task_name, launch.instance_id, launch.attempt)
    except Exception as exc:
        return failure_outcome(exc)
    detail.update(_where_it_runs(runtime, env, prepared))
    detail.update(log_offsets(prepared.stdout_path, prepared.stderr_path))
    spec = attempt_spec(
        env,
        launch.job_id,
        launch.instance_id,
        launch.attempt,
        needs=tuple(prepared.needs),
        stdout_path=prepared.stdout_path,
        stderr_path=prepared.stderr_path,
    )

    outcome: AttemptOutcome | None = None
    try:
        prepared.start_streaming()
        outcome = run_attempt(
            runtime,
            spec,
            float(env.timeout),
            cancel,
            on_started,
            grace=grace,
            kill=kill,
            on_waiting=on_waiting,
        )
    except Exception as exc:
        log.exception("running %s failed inside localbatch", launch)
        outcome = failure_outcome(exc)
    finally:
        keep = env.keep_on_failure and not (outcome is not None and outcome.succeeded)
        if outcome is not None:
            outcome = disk_full_outcome(outcome, prepared)
        outcome = finish_storage(storage, prepared, outcome, keep, detail)
    assert outcome is not None
    return outcome


def _where_it_runs(
    runtime: Runtime, env: TaskEnvironment, prepared: PreparedAttemptLike
) -> EventDetail:
    """The instance's detail known before it starts: log objects and files, work directory,
    runtime and image, so a user can find them while it runs."""
    detail: EventDetail = {
        "stdout_object": prepared.stdout_object,
        "stderr_object": prepared.stderr_object,
        "stdout_path": str(prepared.stdout_path),
        "stderr_path": str(prepared.stderr_path),
        "workdir": str(prepared.workdir),
        "runtime": runtime.name,
    }
    if uses_images(runtime):
        detail["image"] = env.image
    return detail


def log_offsets(stdout_path: Path, stderr_path: Path) -> EventDetail:
    """Where an attempt about to start begins in its instance's log files, which every
    attempt of every run appends to: what `localbatch logs` shows as that attempt."""
    return {"stdout_offset": file_size(stdout_path), "stderr_offset": file_size(stderr_path)}


def finish_storage(
    storage: JobStorageLike[P],
    prepared: P,
    outcome: AttemptOutcome | None,
    keep: bool,
    detail: EventDetail,
) -> AttemptOutcome | None:
    """`storage.finish` after the program ended: outputs that cannot be uploaded fail an
    attempt that succeeded; after a failure the storage error goes into `detail`."""
    try:
        storage.finish(prepared, keep=keep)
    except Exception as exc:
        failure = failure_outcome(exc)
        if outcome is not None and outcome.succeeded:
            return replace(
                outcome, error_code=failure.error_code, error_message=failure.error_message
            )
        detail["storage_error"] = f"{failure.error_code}: {failure.error_message}"
    return outcome
