"""What a run that dies (SIGKILL, no cleanup) leaves behind, and who removes it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker.errors
import psutil
import pytest

from localbatch.runtime.docker import DockerRuntime

HELPER = Path(__file__).with_name("dead_owner.py")


def _start_and_kill(runtime: str, workdir: Path) -> str:
    """Run the helper until it has started its attempt, SIGKILL it, answer its ref."""
    helper = subprocess.Popen(
        [sys.executable, str(HELPER), runtime, str(workdir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert helper.stdout is not None
    ref = helper.stdout.readline().strip()
    helper.send_signal(signal.SIGKILL)
    helper.wait()
    assert ref, "the helper did not start its attempt"
    return ref


@pytest.mark.docker
def test_the_next_run_removes_a_dead_runs_container(
    docker_client: Any, default_image: str, tmp_path: Path
) -> None:
    ref = _start_and_kill("docker", tmp_path)
    assert docker_client.api.inspect_container(ref)["State"]["Running"]
    runtime = DockerRuntime(docker_client)
    runtime.check()
    assert ref in runtime.orphans_removed
    with pytest.raises(docker.errors.NotFound):
        docker_client.api.inspect_container(ref)


@pytest.mark.sandbox
def test_a_sandbox_dies_with_its_run(bwrap_path: str, tmp_path: Path) -> None:
    init_pid = int(_start_and_kill("process", tmp_path))
    try:
        _, alive = psutil.wait_procs([psutil.Process(init_pid)], timeout=10)
    except psutil.NoSuchProcess:
        return  # already gone before we could look
    assert not alive, "the sandbox outlived the run that started it"
