"""One attempt from preparation to upload: every failure becomes an outcome with a code."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localbatch.config import Config
from localbatch.engine.attempts import execute_attempt, failure_outcome
from localbatch.engine.capacity import HostCapacity
from localbatch.engine.environment import TaskEnvironment, task_environment
from localbatch.engine.scheduler import Launch
from localbatch.runtime.fake import FakeRuntime, FakeStep
from localbatch.spec.model import Job
from localbatch.storage.needs import package_view

LAUNCH = Launch("job-1", "t", 0, 0)


def _env(
    job_factory: Callable[..., Job],
    task_factory: Callable[..., dict[str, Any]],
    config: Config,
    command: str = "python3 main.py",
) -> TaskEnvironment:
    job = job_factory({"t": task_factory(command)})
    return task_environment("job-1", job.tasks["t"], config, HostCapacity.unlimited(), "")


class _Storage:
    def __init__(self, root: Path, finish_error: Exception | None = None) -> None:
        self.root = root
        self.finish_error = finish_error
        self.calls: list[str] = []

    def prepare(self, task_name: str, instance_id: int, attempt: int) -> Any:
        self.calls.append("prepare")
        root = self.root

        class Prepared:
            workdir = root
            needs = (package_view(root),)
            stdout_path = root / "out"
            stderr_path = root / "err"
            stdout_object = "oss://bkt/stdout.job-1.t.0"
            stderr_object = ""

            def start_streaming(self) -> None:
                return None

        return Prepared()

    def finish(self, prepared: Any, *, keep: bool = False) -> None:
        self.calls.append(f"finish keep={keep}")
        if self.finish_error:
            raise self.finish_error

    def close(self) -> None:
        return None


class _Coded(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def test_a_cancelled_attempt_prepares_nothing(
    tmp_path: Path, job_factory: Any, task_factory: Any, config: Config
) -> None:
    storage = _Storage(tmp_path)
    cancel = threading.Event()
    cancel.set()
    env = _env(job_factory, task_factory, config)
    outcome = execute_attempt(FakeRuntime(), storage, env, LAUNCH, cancel, {}, lambda _: None)
    assert outcome.error_code == "Stopped" and storage.calls == []


def test_a_failed_program_still_finishes_storage_and_records_its_error(
    tmp_path: Path, job_factory: Any, task_factory: Any, config: Config
) -> None:
    storage = _Storage(tmp_path, finish_error=_Coded("OutputUploadFailed", "disk full"))
    detail: dict[str, Any] = {}
    started: list[str] = []
    env = _env(job_factory, task_factory, config)
    outcome = execute_attempt(
        FakeRuntime(FakeStep(exit_code=2)),
        storage,
        env,
        LAUNCH,
        threading.Event(),
        detail,
        lambda handle: started.append(handle.ref),
    )
    assert outcome.exit_code == 2 and outcome.error_code == ""
    assert detail["storage_error"] == "OutputUploadFailed: disk full"
    assert detail["stdout_object"] == "oss://bkt/stdout.job-1.t.0" and detail["runtime"] == "fake"
    assert storage.calls == ["prepare", "finish keep=False"] and started == ["fake-1"]


def test_failures_without_a_code_are_internal_errors() -> None:
    assert failure_outcome(_Coded("PackageError", "bad")).error_code == "PackageError"
    internal = failure_outcome(RuntimeError("boom"))
    assert (internal.error_code, internal.error_message) == ("InternalError", "RuntimeError: boom")


def test_running_out_of_space_in_any_step_is_disk_full() -> None:
    import errno

    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/state/jobs/x/logs")
        except OSError as exc:
            raise _Coded("OutputUploadFailed", "out/: No space left on device") from exc
    except _Coded as wrapped:
        outcome = failure_outcome(wrapped)
    assert outcome.error_code == "DiskFull"
    assert outcome.error_message == "out/: No space left on device"
    assert failure_outcome(OSError(errno.ENOSPC, "full")).error_code == "DiskFull"
    assert failure_outcome(OSError(errno.EIO, "io")).error_code == "InternalError"
