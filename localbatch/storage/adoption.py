"""Storage of an attempt another process prepared: what finishing an adopted attempt needs.

After a kill -9 the process that adopts a still-running container must finish its attempt
as the dead process would have: push its logs (stdout/stderr and LogMapping files) and
upload its OutputMapping directories. All of these are host paths that
`JobStorage.prepare` derives from (task, instance, attempt) alone (see the layout in
`localbatch.storage.instance`), so they are derived here again, creating nothing. The
package cache is not verified afterwards: which copy of the package the attempt got is
known only to the process that prepared it.
"""

from __future__ import annotations

from pathlib import Path

from localbatch.storage.errors import OUTPUT_UPLOAD_FAILED, StorageError
from localbatch.storage.instance import JobStorage, PreparedAttempt
from localbatch.storage.logs import LogStreamer, LogTarget


def reopen_attempt(
    storage: JobStorage, task_name: str, instance_id: int, attempt: int, workdir: Path
) -> PreparedAttempt:
    """The `PreparedAttempt` of an attempt an earlier process prepared, for `finish`.

    `workdir` is the work directory the store recorded for it: the paths derived here must
    lead to it (else the state dir moved, or the layout changed), and it must still exist.
    StorageError when the attempt's storage cannot be rebuilt.
    """
    task = storage._task(task_name)
    name = f"{task_name}.{instance_id}"
    attempt_dir = storage.work_root / "attempts" / f"{name}.{attempt}"
    if (attempt_dir / "workdir").resolve() != workdir.resolve() or not attempt_dir.is_dir():
        raise StorageError(
            OUTPUT_UPLOAD_FAILED,
            f"the attempt's directory {workdir} is not where this state dir keeps it, or is gone",
        )
    try:
        outputs = tuple(
            (attempt_dir / "outputs" / str(index), storage._folder(url, "OutputMapping"))
            for index, url in enumerate(task.output_mapping.values())
        )
        logs_dir = storage.work_root / "logs"
        targets, _ = storage._log_mapping(task, name, instance_id, logs_dir)
        suffix = f"{storage.job_id}.{task_name}.{instance_id}"
        paths = {stream: logs_dir / f"{name}.{stream}" for stream in ("stdout", "stderr")}
        objects = {
            "stdout": storage._redirect(task.parameters.stdout_redirect_path, "stdout", suffix),
            "stderr": storage._redirect(task.parameters.stderr_redirect_path, "stderr", suffix),
        }
    except StorageError as exc:
        raise storage._scrubbed(exc) from None
    targets = [
        LogTarget(paths[stream], location)
        for stream, location in objects.items()
        if location is not None
    ] + targets
    return PreparedAttempt(
        workdir=workdir,
        binds=(),
        stdout_path=paths["stdout"],
        stderr_path=paths["stderr"],
        stdout_object=objects["stdout"].url if objects["stdout"] else "",
        stderr_object=objects["stderr"].url if objects["stderr"] else "",
        attempt_dir=attempt_dir,
        outputs=outputs,
        streamer=LogStreamer(targets, storage.cadence, storage.resolver.secrets()),
    )
