"""What a run that dies (SIGKILL, no cleanup) leaves behind, and who removes it.

Each test looks only at what its own dead run made: the container carries this session's
owner host label (no other run on the machine judges it), and the sandbox is watched
through a pidfd opened while it runs (a recycled pid cannot stand in for it).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from .conftest import TEST_OWNER_HOST, session_docker_runtime, session_swarm_runtime

HELPER = Path(__file__).with_name("dead_owner.py")
#: How long the sandbox may take to die after its run did (it normally takes milliseconds).
DEATH_DEADLINE = 30.0


def _start(runtime: str, workdir: Path, cores: float = 1) -> tuple[subprocess.Popen[str], str]:
    """Run the helper until it has started its attempt; it and its attempt's ref."""
    helper = subprocess.Popen(
        [sys.executable, str(HELPER), runtime, str(workdir), TEST_OWNER_HOST, str(cores)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert helper.stdout is not None
    ref = helper.stdout.readline().strip()
    if not ref:
        _kill(helper)
        pytest.fail("the helper did not start its attempt")
    return helper, ref


def _kill(helper: subprocess.Popen[str]) -> None:
    helper.send_signal(signal.SIGKILL)
    helper.wait()


def _start_and_kill(
    runtime: str, workdir: Path, before_kill: Callable[[str], None] = lambda _: None
) -> str:
    """Run the helper until it has started its attempt, SIGKILL it, answer its ref."""
    helper, ref = _start(runtime, workdir)
    try:
        before_kill(ref)
    finally:
        _kill(helper)
    return ref


@pytest.mark.docker
def test_the_next_run_removes_a_dead_runs_container(
    docker_client: Any, default_image: str, tmp_path: Path
) -> None:
    ref = _start_and_kill("docker", tmp_path)
    try:
        assert docker_client.api.inspect_container(ref)["State"]["Running"]
        runtime = session_docker_runtime(docker_client)
        runtime.check()
        assert ref in runtime.orphans_removed
        with pytest.raises(docker.errors.NotFound):
            docker_client.api.inspect_container(ref)
    finally:
        with contextlib.suppress(docker.errors.NotFound):  # left only when a check failed
            docker_client.api.remove_container(ref, force=True)


def _await_running(client: Any, service: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tasks = client.api.tasks(filters={"service": service})
        if any(t["Status"]["State"] == "running" for t in tasks):
            return
        time.sleep(0.2)
    pytest.fail("the dead run's service never ran")


@pytest.mark.swarm
def test_the_next_run_removes_a_dead_runs_services_and_keeps_only_placed_ones(
    swarm_manager: Any, tmp_path: Path
) -> None:
    """A service whose job is unfinished is kept for adoption only once a node runs it: one
    still waiting for a node has an instance recorded Waiting, which runs again."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, placed = _start("swarm", tmp_path / "a")
    second, waiting = _start("swarm", tmp_path / "b", cores=4096)  # no node has that many
    try:
        _await_running(swarm_manager, placed)
        _kill(first)
        _kill(second)
        keeping = session_swarm_runtime(swarm_manager, keep_job=lambda *_: True)
        keeping.check()
        assert (keeping.orphans_kept, keeping.orphans_removed) == ([placed], [waiting])
        removing = session_swarm_runtime(swarm_manager)
        removing.check()
        assert removing.orphans_removed == [placed]
        for service in (placed, waiting):
            with pytest.raises(docker.errors.NotFound):
                swarm_manager.api.inspect_service(service)
    finally:
        _kill(first)
        _kill(second)
        for service in (placed, waiting):  # left only when a check failed
            with contextlib.suppress(docker.errors.NotFound):
                swarm_manager.api.remove_service(service)


@pytest.mark.sandbox
def test_a_sandbox_dies_with_its_run(bwrap_path: str, tmp_path: Path) -> None:
    pidfds: list[int] = []

    def watch(ref: str) -> None:
        pidfds.append(os.pidfd_open(int(ref)))  # fails if the sandbox is not running

    _start_and_kill("process", tmp_path, before_kill=watch)
    try:
        ended, _, _ = select.select(pidfds, [], [], DEATH_DEADLINE)
        assert ended, f"the sandbox outlived the run that started it by {DEATH_DEADLINE:.0f} s"
    finally:
        os.close(pidfds[0])
