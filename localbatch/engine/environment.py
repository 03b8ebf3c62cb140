"""What a program sees, as the service gives it: argv, environment, image and size.

Per task, `task_environment` decides once: the words of `CommandLine` (split like a shell
would, but executed without one), the `BATCH_COMPUTE_*` variables of semantics.md plus the
task's `EnvVars`, the image and the instance type (with the rules below), and the notices
a user must see. `attempt_spec` then fills in what differs per attempt.

Image: `Command.Docker.Image`, else the `BATCH_COMPUTE_DOCKER_IMAGE` env var, else
`AutoCluster.ImageId` (or `ECSImageId`) through `config.images`, else the `ClusterId`'s
local definition (`[clusters.<id>]` in the config). Instance type: `AutoCluster.InstanceType`
or the cluster's. An unknown cluster id or image id uses the defaults and says so.
"""

from __future__ import annotations

import shlex
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from localbatch.config import DEFAULT_INSTANCE_TYPE, Config
from localbatch.engine.capacity import HostCapacity, Sizing, size_instance
from localbatch.runtime.base import WORKDIR, AttemptSpec, Bind
from localbatch.spec.model import Task

#: In Docker mode the service documents exactly these (no /usr/local/bin in PATH).
CONTAINER_ENV: Mapping[str, str] = {
    "USER": "root",
    "HOME": "/root",
    "PWD": WORKDIR,
    "PATH": "/sbin:/usr/sbin:/bin:/usr/bin",
}
DOCKER_IMAGE_VAR = "BATCH_COMPUTE_DOCKER_IMAGE"
#: Labels every attempt carries (Docker labels for containers; names for sandboxes).
LABEL_JOB = "localbatch.job"
LABEL_TASK = "localbatch.task"
LABEL_INSTANCE = "localbatch.instance"
LABEL_ATTEMPT = "localbatch.attempt"


@dataclass(frozen=True)
class TaskEnvironment:
    """Everything about a task's attempts that does not depend on the instance."""

    task_name: str
    #: CommandLine split into words; empty with `argv_error` set when it cannot be split.
    argv: tuple[str, ...]
    argv_error: str
    image: str
    #: Where the image came from, for --dry-run and notices.
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


def _image_and_type(task: Task, config: Config) -> tuple[str, str, str, list[str]]:
    """(image, where it came from, instance type, notices) by the module's rules."""
    notices: list[str] = []
    command = task.parameters.command
    cluster_image = ""
    cluster_source = ""
    instance_type = DEFAULT_INSTANCE_TYPE
    auto = task.auto_cluster
    if auto is not None and not task.cluster_id:
        image_id = auto.image_id or auto.ecs_image_id
        instance_type = auto.instance_type or DEFAULT_INSTANCE_TYPE
        if image_id in config.images:
            cluster_image = config.images[image_id]
            cluster_source = f"AutoCluster image {image_id}"
        else:
            cluster_image = config.default_docker_image
            cluster_source = "default image"
            if image_id:
                notices.append(
                    f"task {task.name}: image id {image_id} is not mapped in the config "
                    f"([images] {image_id} = ...); using {config.default_docker_image}"
                )
    elif task.cluster_id in config.clusters:
        cluster = config.clusters[task.cluster_id]
        instance_type = cluster.instance_type
        cluster_image = cluster.docker_image or config.images.get(
            cluster.image_id, config.default_docker_image
        )
        cluster_source = f"cluster {task.cluster_id}"
    else:
        cluster_image = config.default_docker_image
        cluster_source = "default image"
        notices.append(
            f"task {task.name}: cluster {task.cluster_id or '(none)'} is not defined in the "
            f"config ([clusters.{task.cluster_id or '<id>'}]); using image "
            f"{config.default_docker_image} and instance type {DEFAULT_INSTANCE_TYPE}"
        )
    if command.docker is not None and command.docker.image:
        return command.docker.image, "Command.Docker.Image", instance_type, notices
    if command.env_vars.get(DOCKER_IMAGE_VAR):
        return command.env_vars[DOCKER_IMAGE_VAR], DOCKER_IMAGE_VAR, instance_type, notices
    return cluster_image, cluster_source, instance_type, notices


def task_environment(
    job_id: str, task: Task, config: Config, host: HostCapacity, oss_host: str
) -> TaskEnvironment:
    """Decide once per task what its attempts see."""
    argv, argv_error = split_command_line(task.parameters.command.command_line)
    image, source, instance_type, notices = _image_and_type(task, config)
    sizing = size_instance(instance_type, host)
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
        image=image,
        image_source=source,
        instance_type=instance_type,
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
    workdir: Path,
    binds: tuple[Bind, ...] = (),
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
        workdir=workdir,
        binds=binds,
        image=env.image,
        cpu_cores=env.sizing.granted.cpu_cores,
        memory_bytes=env.sizing.granted.memory_bytes,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        labels={
            LABEL_JOB: job_id,
            LABEL_TASK: env.task_name,
            LABEL_INSTANCE: str(instance_id),
            LABEL_ATTEMPT: str(attempt),
        },
        keep_on_failure=env.keep_on_failure,
    )
