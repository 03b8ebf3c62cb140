"""What `localbatch run --dry-run` shows: per task and instance, what would run and how.

Nothing is prepared or started: the image, size, command, environment (secrets masked) and
the paths the program would see are derived from the job and the config alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from localbatch.config import Config
from localbatch.engine.capacity import Concurrency, HostCapacity, concurrency
from localbatch.engine.environment import TaskEnvironment, instance_env, task_environment
from localbatch.runtime.base import WORKDIR
from localbatch.spec.model import Task

MASK = "******"
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE", re.IGNORECASE)


@dataclass(frozen=True)
class TaskPreview:
    """One task as --dry-run prints it; derived without preparing or starting anything."""

    name: str
    environment: TaskEnvironment
    instance_count: int
    max_retry_count: int
    #: "target <- source (mode)" lines, in the order the program would see them.
    paths: tuple[str, ...]
    #: One environment per instance, secrets masked.
    instance_envs: tuple[dict[str, str], ...]
    #: How many of its instances can run at once on this host, and why.
    concurrency: Concurrency


def masked(env: dict[str, str]) -> dict[str, str]:
    """Environment values whose names look secret are shown as ******."""
    return {k: (MASK if _SECRET_NAME.search(k) and v else v) for k, v in env.items()}


def task_paths(task: Task) -> tuple[str, ...]:
    """The paths an instance of `task` sees, and where each comes from."""
    package = task.parameters.command.package_path
    lines = [f"{WORKDIR} <- {package + ' unpacked' if package else 'empty'} (writable)"]
    lines += [f"{local} <- {oss} (read-only)" for oss, local in task.input_mapping.items()]
    lines += [
        f"{local} -> {oss} (empty, uploaded after every attempt)"
        for local, oss in task.output_mapping.items()
    ]
    lines += [
        f"{local} -> {oss} (log, pushed while running)" for local, oss in task.log_mapping.items()
    ]
    lines += [
        f"{m.destination} <- {m.source} ({'writable' if m.write_support else 'read-only'})"
        for m in task.all_mounts
    ]
    disk = task.auto_cluster.configs.data_disk if task.auto_cluster else None
    if disk and disk.mount_point:
        lines.append(f"{disk.mount_point} <- data disk (empty, private, writable)")
    return tuple(lines)


def preview(
    job_id: str,
    tasks: dict[str, Task],
    config: Config,
    host: HostCapacity,
    oss_host: str,
) -> list[TaskPreview]:
    """Every task as it would run, in the job's order."""
    previews = []
    for name, task in tasks.items():
        env = task_environment(job_id, task, config, host, oss_host)
        previews.append(
            TaskPreview(
                name=name,
                environment=env,
                instance_count=task.instance_count,
                max_retry_count=task.max_retry_count,
                paths=task_paths(task),
                instance_envs=tuple(
                    masked(instance_env(env, i)) for i in range(task.instance_count)
                ),
                concurrency=concurrency(env.sizing, host),
            )
        )
    return previews
