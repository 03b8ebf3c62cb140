"""Where a job's files live under the state directory, and what its log objects are named.

One answer for the code that writes them (the engine's `JobStorage`, recovery, the
notifier's JSON-lines file) and the code that reads or reports them (`localbatch logs`,
the API's instance shapes).
"""

from __future__ import annotations

from pathlib import Path


def job_dir(state_dir: Path, job_id: str) -> Path:
    """A job's work root: its attempts, logs, downloaded inputs and event file."""
    return state_dir / "jobs" / job_id


def logs_dir(job_root: Path) -> Path:
    """stdout/stderr of every instance, appended across retries, and LogMapping files."""
    return job_root / "logs"


def log_file_name(task_name: str, instance_id: int, stream: str) -> str:
    """`<task>.<instance>.stdout|stderr`: the name an instance's output file has."""
    return f"{task_name}.{instance_id}.{stream}"


def instance_suffix(job_id: str, task_name: str, instance_id: int) -> str:
    """`<jobId>.<task>.<n>`: what names an instance's log objects apart in a shared folder."""
    return f"{job_id}.{task_name}.{instance_id}"


def redirect_object_name(stream: str, job_id: str, task_name: str, instance_id: int) -> str:
    """`stdout.<jobId>.<task>.<n>` in the Stdout/StderrRedirectPath folder: the only naming
    the official CLI finds logs by."""
    return f"{stream}.{instance_suffix(job_id, task_name, instance_id)}"
