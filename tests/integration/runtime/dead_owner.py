"""A run that dies: starts one long attempt, prints a reference to it, then blocks on stdin
until the test kills it with SIGKILL (no cleanup can run). Used by test_dead_runs.py.

Usage: python dead_owner.py docker|process WORKDIR [OWNER_HOST]
OWNER_HOST labels the Docker container in place of the host name, so only the test that
started this run judges its orphan (`conftest.session_docker_runtime`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from localbatch.config import DEFAULT_DOCKER_IMAGE
from localbatch.runtime.base import AttemptSpec, Runtime
from localbatch.storage.needs import package_view


def runtime_named(name: str, owner_host: str) -> Runtime:
    if name == "docker":
        from localbatch.runtime.docker import LABEL_OWNER_HOST, DockerRuntime

        runtime = DockerRuntime()
        if owner_host:
            runtime.owner_labels[LABEL_OWNER_HOST] = owner_host
        return runtime
    from localbatch.runtime.process import ProcessRuntime

    return ProcessRuntime()


def main(name: str, workdir: str, owner_host: str = "") -> None:
    runtime = runtime_named(name, owner_host)
    runtime.check()
    spec = AttemptSpec(
        job_id="job-dead-owner",
        task_name="t",
        instance_id=0,
        attempt=0,
        argv=("sleep", "300"),
        env={"PATH": "/usr/bin:/bin"},
        needs=(package_view(Path(workdir)),),
        image=DEFAULT_DOCKER_IMAGE,
        memory_bytes=64 * 2**20,
    )
    handle = runtime.start(spec)
    # The container id, or the sandbox's init pid as the host sees it.
    print(getattr(handle, "child_pid", None) or getattr(handle, "ref", handle), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main(*sys.argv[1:])
