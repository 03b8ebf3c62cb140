"""What a program sees, as the service gives it: argv, environment, image and size.

Per task, `task_environment` decides once: the words of `CommandLine` (split like a shell
would, but executed without one), the `BATCH_COMPUTE_*` variables of semantics.md plus the
task's `EnvVars`, the image and the instance type, and the notices
a user must see. `attempt_spec` then fills in what differs per attempt.

The image and instance type come from `localbatch.plan.node_choice`, the one place that decides
them (`localbatch plan` shows the same answer).
"""

from __future__ import annotations

import shlex
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from localbatch.config import Config
from localbatch.engine.capacity import HostCapacity, Sizing, size_instance
from localbatch.plan.node_choice import choose_node
from localbatch.runtime.base import SERVICE_PATH, WORKDIR, AttemptSpec, attempt_labels
from localbatch.spec.model import Task
from localbatch.storage.needs import Need

#: In Docker mode the service documents exactly these (no /usr/local/bin in PATH).
CONTAINER_ENV: Mapping[str, str] = {
    "USER": "root",
    "HOME": "/root",
    "PWD": WORKDIR,
    "PATH": SERVICE_PATH,
}


@dataclass(frozen=True)
class TaskEnvironment:
    """Everything about a task's attempts that does not depend on the instance."""

    task_name: str
    #: CommandLine split into words; empty with `argv_error` set when it cannot be split.
    argv: tuple[str, ...]
    argv_error: str
    #: The local Docker image the attempts run in.
    image: str
    #: The image the job names (a Docker image or an image id) and the field that named it.
    image_id: str
    image_source: str
    instance_type: str
    sizing: Sizing
    cluster_id: str
    #: The environment without BATCH_COMPUTE_DAG_INSTANCE_ID / WORKER_ID.
    env: Mapping[str, str]
    timeout: int
    keep_on_failure: bool
    notices: tuple[str, ...]


def split_command_line(command_line: str) -> tuple[tuple[str, ...], str]:
    """Words of a CommandLine ("python3 main.py --n 3"), or an error message."""
    try:
        words = tuple(shlex.split(command_line))
    except ValueError as exc:
        return (), f"CommandLine {command_line!r} cannot be split into words: {exc}"
    if not words:
        return (), "CommandLine is empty"
    return words, ""


def task_environment(
    job_id: str, task: Task, config: Config, host: HostCapacity, oss_host: str
) -> TaskEnvironment:
    """Decide once per task what its attempts see."""
    argv, argv_error = split_command_line(task.parameters.command.command_line)
    node = choose_node(task, config)
    notices = list(node.notices)
    sizing = size_instance(node.instance_type, host)
    if sizing.warning:
        notices.append(f"task {task.name}: {sizing.warning}")
    cluster_id = task.cluster_id or f"auto-{job_id}-{task.name}"
    env = {
        **CONTAINER_ENV,
        # Not set by the service: lets oss2/ossfs programs find the local endpoint.
        **({"OSS_ENDPOINT": oss_host} if oss_host else {}),
        **{str(k): str(v) for k, v in task.parameters.command.env_vars.items()},
        "BATCH_COMPUTE_DAG_JOB_ID": job_id,
        "BATCH_COMPUTE_DAG_TASK_ID": task.name,
        "BATCH_COMPUTE_OSS_HOST": oss_host,
        "BATCH_COMPUTE_REGION": config.region,
        "BATCH_COMPUTE_CLUSTER_ID": cluster_id,
    }
    return TaskEnvironment(
        task_name=task.name,
        argv=argv,
        argv_error=argv_error,
        image=node.docker_image,
        image_id=node.image_id,
        image_source=node.image_source,
        instance_type=node.instance_type,
        sizing=sizing,
        cluster_id=cluster_id,
        env=env,
        timeout=task.timeout,
        keep_on_failure=bool(task.auto_cluster and task.auto_cluster.reserve_on_fail),
        notices=tuple(notices),
    )


def instance_env(env: TaskEnvironment, instance_id: int) -> dict[str, str]:
    """The complete environment of one instance."""
    return {
        **env.env,
        "BATCH_COMPUTE_DAG_INSTANCE_ID": str(instance_id),
        "BATCH_COMPUTE_WORKER_ID": f"{socket.gethostname()}-{env.task_name}-{instance_id}",
    }


def attempt_spec(
    env: TaskEnvironment,
    job_id: str,
    instance_id: int,
    attempt: int,
    *,
    needs: tuple[Need, ...] = (),
    stdout_path: Path = Path("/dev/null"),
    stderr_path: Path = Path("/dev/null"),
) -> AttemptSpec:
    """The runtime-neutral description of one attempt."""
    return AttemptSpec(
        job_id=job_id,
        task_name=env.task_name,
        instance_id=instance_id,
        attempt=attempt,
        argv=env.argv,
        env=instance_env(env, instance_id),
        needs=needs,
        image=env.image,
        cpu_cores=env.sizing.granted.cpu_cores,
        memory_bytes=env.sizing.granted.memory_bytes,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        labels=attempt_labels(job_id, env.task_name, instance_id, attempt),
        keep_on_failure=env.keep_on_failure,
    )
