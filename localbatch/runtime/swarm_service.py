"""One attempt as one Swarm service: its spec, and how its program's output reaches the
instance's log files.

The service runs one task and never restarts it (mode replicated, one replica, restart
condition none: retries stay localbatch's). It is sized exactly by the instance type
(reservation = limit, not scaled to any host: Swarm places it on a node that holds it).

Output: the program's stdout and stderr are the instance's log files themselves, on the
storage every node shares, bound into the container and opened by `/bin/sh` before it
`exec`s the program (so the program runs exactly as on the Docker runtime: same argv, same
environment, an init as pid 1). Nothing is copied through the manager: every byte lands
as written, and a program that outlives its runner (kill -9 of `serve`) keeps writing
where the next runner looks. Hence the one requirement on the image: it has `/bin/sh`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import docker.types

from localbatch.runtime.base import WORKDIR, AttemptSpec

#: Where the instance's log files are bound in the container (under /dev: never in the
#: image's tree, never where a job could map something).
STDOUT_TARGET = "/dev/localbatch/stdout"
STDERR_TARGET = "/dev/localbatch/stderr"
#: The shell's name ($0) in its own error messages: an exec that failed reads
#: "localbatch-exec: 1: exec: NAME: not found" at the start of the instance's stderr.
SHELL_NAME = "localbatch-exec"
#: The wrapper's own status when the log files cannot be written on the node.
LOGS_UNWRITABLE = 125
#: Runs the program with its output appended to the log files; never a shell of the job.
WRAPPER = (
    '[ -w "$1" ] && [ -w "$2" ] || {'
    ' echo "localbatch: cannot write the log files $1 $2" >&2;'
    f" exit {LOGS_UNWRITABLE}; }}; "
    'exec >>"$1" 2>>"$2"; shift 2; exec "$@"'
)
#: Service names: at most 63 characters, letters and digits joined by - or _.
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def service_name(spec: AttemptSpec) -> str:
    """A readable, unique service name ("lb-8f3a09c1-count-0-1-5e2b7a")."""
    job = _NAME_UNSAFE.sub("", spec.job_id.removeprefix("job-"))[:8].lower() or "job"
    task = _NAME_UNSAFE.sub("_", spec.task_name)[:24]
    return f"lb-{job}-{task}-{spec.instance_id}-{spec.attempt}-{uuid.uuid4().hex[:6]}"


def wrapped_command(argv: tuple[str, ...]) -> list[str]:
    """The container's command: the wrapper, the log targets, then the program's argv."""
    return ["/bin/sh", "-c", WRAPPER, SHELL_NAME, STDOUT_TARGET, STDERR_TARGET, *argv]


def mounts(spec: AttemptSpec) -> list[docker.types.Mount]:
    """Every need as a bind of the same path on the node (shared storage), and the logs."""
    binds = [docker.types.Mount(WORKDIR, str(spec.workdir), type="bind", read_only=False)]
    binds += [
        docker.types.Mount(b.target, str(b.source), type="bind", read_only=b.read_only)
        for b in spec.binds
    ]
    binds += [
        docker.types.Mount(STDOUT_TARGET, str(spec.stdout_path), type="bind", read_only=False),
        docker.types.Mount(STDERR_TARGET, str(spec.stderr_path), type="bind", read_only=False),
    ]
    return binds


def task_template(
    spec: AttemptSpec,
    image: str,
    labels: Mapping[str, str],
    *,
    constraints: tuple[str, ...],
    network: str,
    stop_grace: float,
) -> docker.types.TaskTemplate:
    """What the service's one task runs, where it may go and what it holds."""
    nano_cpus = int(spec.cpu_cores * 1e9)
    resources: dict[str, Any] = {"cpu_limit": nano_cpus, "cpu_reservation": nano_cpus}
    if spec.memory_bytes:
        resources["mem_limit"] = spec.memory_bytes
        resources["mem_reservation"] = spec.memory_bytes
    container = docker.types.ContainerSpec(
        image,
        wrapped_command(spec.argv),
        env=[f"{key}={value}" for key, value in spec.env.items()],
        workdir=WORKDIR,
        labels=dict(labels),
        mounts=mounts(spec),
        # An init as pid 1 gives the program SIGTERM's default action on stop, as on Docker.
        init=True,
        stop_grace_period=int(stop_grace * 1e9),
    )
    return docker.types.TaskTemplate(
        container,
        resources=docker.types.Resources(**resources),
        restart_policy=docker.types.RestartPolicy(condition="none"),
        placement=docker.types.Placement(constraints=list(constraints)) if constraints else None,
        networks=[network] if network else None,
    )


def one_task() -> docker.types.ServiceMode:
    """One replica, never replaced. Not the `replicated-job` mode: on Docker Engine before
    24, removing a job-mode service neither stops its running task nor removes its container
    (moby/moby#44312), and removing the service is how an attempt is stopped."""
    return docker.types.ServiceMode("replicated", replicas=1)


def exec_failure(stderr_head: bytes) -> str:
    """The shell's words when it could not exec the program ("" when it did): they are
    the first line of the instance's stderr since the attempt began."""
    first = stderr_head.decode("utf-8", "replace").partition("\n")[0]
    if not first.startswith(SHELL_NAME + ":"):
        return ""
    words = first[len(SHELL_NAME) + 1 :].strip()
    return re.sub(r"^(line )?\d+: ", "", words)
