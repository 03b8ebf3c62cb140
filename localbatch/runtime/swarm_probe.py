"""Before a job runs on a swarm: does every node that may run its instances see its files?

Instances bind their files (package view, mappings, log files) at the same paths as on
this host, so the state directory and the OSS root must be on storage every node shares,
at the same path. A tiny probe checks it: a file with a fresh name is written into each
directory here, and one task per eligible node (a global service with the instances'
placement constraints, the job's image, no restart) binds those directories and looks
for the files. A node where a directory is missing, or holds other files, is named.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types

from localbatch.runtime.swarm_nodes import node_name

#: Seconds the nodes get to answer (an image being prepared on a node takes a while).
PROBE_SECONDS = 60.0
#: Label of probe services (with the owner labels, so a dead run's probe is cleaned up).
LABEL_PROBE = "localbatch.probe"
#: The probe's status when a file written here is not there.
NOT_THE_SAME = 3
_SCRIPT = f'for f; do [ -f "$f" ] || exit {NOT_THE_SAME}; done'
_ENDED = ("complete", "failed", "rejected", "shutdown", "orphaned")


def _token(directory: Path, stack: ExitStack) -> Path:
    """A new empty file in `directory`, removed when the probe ends."""
    path = directory / f".localbatch-probe-{uuid.uuid4().hex}"
    path.touch(exist_ok=False)
    stack.callback(path.unlink, missing_ok=True)
    return path


def probe_nodes(
    client: docker.DockerClient,
    shared: tuple[Path, ...],
    image: str,
    *,
    constraints: tuple[str, ...],
    labels: Mapping[str, str],
    expected: int,
    timeout: float = PROBE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """One line per node that does not see `shared` as this host does (or cannot run
    `image`); [] when every node does. `expected` is how many nodes should answer."""
    with ExitStack() as stack:
        tokens = [str(_token(directory, stack)) for directory in shared]
        container = docker.types.ContainerSpec(
            image,
            ["/bin/sh", "-c", _SCRIPT, "localbatch-probe", *tokens],
            mounts=[
                docker.types.Mount(str(d), str(d), type="bind", read_only=True) for d in shared
            ],
        )
        template = docker.types.TaskTemplate(
            container,
            restart_policy=docker.types.RestartPolicy(condition="none"),
            placement=docker.types.Placement(constraints=list(constraints))
            if constraints
            else None,
        )
        service = client.api.create_service(
            template,
            name=f"lb-probe-{uuid.uuid4().hex[:10]}",
            labels={**labels, LABEL_PROBE: "1"},
            mode=docker.types.ServiceMode("global"),
        )["ID"]
        stack.callback(_remove, client, service)
        tasks = _await_answers(client, service, expected, timeout, sleep)
        nodes = {str(n["ID"]): n for n in client.api.nodes()}
        problems = [_problem(task, nodes.get(str(task.get("NodeID"))), shared) for task in tasks]
        answered = {str(task.get("NodeID")) for task in tasks if _ended(task)}
        silent = [node_name(n) for i, n in nodes.items() if i in _task_nodes(tasks) - answered]
        problems += [f"node {name} did not answer within {timeout:g} s" for name in silent]
        return [p for p in problems if p]


def _remove(client: docker.DockerClient, service: str) -> None:
    with suppress(docker.errors.NotFound):
        client.api.remove_service(service)


def _ended(task: Mapping[str, Any]) -> bool:
    return (task.get("Status") or {}).get("State") in _ENDED


def _task_nodes(tasks: list[Mapping[str, Any]]) -> set[str]:
    return {str(task.get("NodeID")) for task in tasks if task.get("NodeID")}


def _await_answers(
    client: docker.DockerClient,
    service: str,
    expected: int,
    timeout: float,
    sleep: Callable[[float], None],
) -> list[Mapping[str, Any]]:
    """The probe's tasks once every expected node's has ended (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        tasks: list[Mapping[str, Any]] = client.api.tasks(filters={"service": service})
        if len([t for t in tasks if _ended(t)]) >= expected or time.monotonic() >= deadline:
            return tasks
        sleep(0.2)


def _problem(
    task: Mapping[str, Any], node: Mapping[str, Any] | None, shared: tuple[Path, ...]
) -> str:
    """What one node's answer says is wrong ("" when nothing is)."""
    status = task.get("Status") or {}
    state = status.get("State")
    name = node_name(node) if node else str(task.get("NodeID", "?"))[:12]
    paths = ", ".join(str(d) for d in shared)
    err = str(status.get("Err") or "")
    exit_code = (status.get("ContainerStatus") or {}).get("ExitCode")
    if state == "complete":
        return ""
    if state not in _ENDED:
        return ""  # counted as silent by the caller
    if exit_code == NOT_THE_SAME:
        return (
            f"node {name} does not see the same files at {paths}: a file written here is "
            "not there (each must be one directory every node shares, at the same path)"
        )
    if "bind source path does not exist" in err:
        missing = err.rsplit(":", 1)[-1].strip()
        return (
            f"node {name} has no directory {missing} "
            "(it must be shared storage, mounted at the same path)"
        )
    if "No such image" in err:
        return f"node {name} does not have the image {task['Spec']['ContainerSpec']['Image']}"
    return f"node {name} could not run the probe: {err or state}"
