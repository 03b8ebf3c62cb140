"""One attempt-level harness for every real runtime: the same tests run on Docker and bwrap."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localbatch.runtime import bind_sources
from localbatch.runtime.base import (
    AttemptHandle,
    AttemptOutcome,
    AttemptSpec,
    Bind,
    Runtime,
    run_attempt,
)
from localbatch.storage.needs import Access, Need, NeedKind, package_view

#: What the service documents for Docker mode (semantics.md), used as every test's base env.
SERVICE_ENV = {
    "USER": "root",
    "HOME": "/root",
    "PWD": "/batchcompute/workdir",
    "PATH": "/sbin:/usr/sbin:/bin:/usr/bin",
}
#: A short grace keeps the graceful-stop tests fast.
GRACE = 1.0
#: The owner host this session's Docker runtimes label their containers with. Orphan clean-up
#: judges only containers of its own host label, so these runtimes never remove another
#: run's containers on the machine, and no other run removes an orphan a test made on purpose.
TEST_OWNER_HOST = f"{socket.gethostname()}.localbatch-tests.{uuid.uuid4().hex[:12]}"


def session_docker_runtime(client: Any, **options: Any) -> Any:
    """A DockerRuntime whose containers and orphan clean-up are this test session's only."""
    from localbatch.runtime.docker import LABEL_OWNER_HOST, DockerRuntime

    runtime = DockerRuntime(client, **options)
    runtime.owner_labels[LABEL_OWNER_HOST] = TEST_OWNER_HOST
    return runtime


def session_swarm_runtime(client: Any, **options: Any) -> Any:
    """A SwarmRuntime whose services and orphan clean-up are this test session's only."""
    from localbatch.runtime.docker import LABEL_OWNER_HOST
    from localbatch.runtime.swarm import SwarmRuntime

    runtime = SwarmRuntime(client, **options)
    runtime.owner_labels[LABEL_OWNER_HOST] = TEST_OWNER_HOST
    return runtime


@dataclass
class Harness:
    """Builds specs in a temporary directory and runs them to their end."""

    runtime: Runtime
    image: str
    root: Path
    counter: int = 0

    @property
    def workdir(self) -> Path:
        return self.root / "workdir"

    @property
    def stdout(self) -> Path:
        return self.root / "stdout"

    @property
    def stderr(self) -> Path:
        return self.root / "stderr"

    def spec(self, *argv: str, **changes: Any) -> AttemptSpec:
        self.counter += 1
        fields: dict[str, Any] = {
            "job_id": "job-runtime-test",
            "task_name": "task",
            "instance_id": 0,
            "attempt": self.counter,
            "argv": argv,
            "env": dict(SERVICE_ENV),
            "needs": (package_view(self.workdir), *changes.pop("needs", ())),
            "image": self.image,
            "cpu_cores": 1.0,
            "memory_bytes": 256 * 2**20,
            "stdout_path": self.stdout,
            "stderr_path": self.stderr,
        }
        fields.update(changes)
        return AttemptSpec(**fields)

    def run(
        self,
        spec: AttemptSpec,
        timeout: float = 60.0,
        cancel: threading.Event | None = None,
        on_started: Callable[[AttemptHandle], None] | None = None,
    ) -> AttemptOutcome:
        return run_attempt(
            self.runtime,
            spec,
            timeout,
            cancel or threading.Event(),
            on_started=on_started,
            grace=GRACE,
        )


@pytest.fixture
def docker_runtime(docker_client: Any) -> Any:
    runtime = session_docker_runtime(docker_client)
    runtime.check()
    return runtime


@pytest.fixture
def swarm_runtime(swarm_manager: Any) -> Any:
    runtime = session_swarm_runtime(swarm_manager, stop_grace=GRACE)
    runtime.check()
    return runtime


@pytest.fixture
def process_runtime(bwrap_path: str) -> Any:
    from localbatch.runtime.process import ProcessRuntime

    runtime = ProcessRuntime(bwrap_path)
    runtime.check()
    return runtime


def image_sources() -> Any:
    """Images as `localbatch run` finds them, with the session's image cache."""
    from localbatch.config import load_config
    from localbatch.images.sources import ImageSources

    return ImageSources(load_config())


@pytest.fixture
def image_process_runtime(bwrap_path: str, default_rootfs: str) -> Any:
    """The process runtime as `localbatch run` makes it: programs see their image."""
    from localbatch.runtime.process import ProcessRuntime
    from localbatch.runtime.rootfs import memory_directory

    runtime = ProcessRuntime(bwrap_path, images=image_sources(), layers_dir=memory_directory())
    runtime.check()
    return runtime


@pytest.fixture(params=["docker", "swarm", "process", "process-image"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """A harness on each real runtime in turn (the sandbox with the host's files, and with
    the default image)."""
    if request.param in ("docker", "swarm"):
        image = request.getfixturevalue("default_image")
        runtime = request.getfixturevalue(f"{request.param}_runtime")
    elif request.param == "process-image":
        image = request.getfixturevalue("default_rootfs")
        runtime = request.getfixturevalue("image_process_runtime")
    else:
        image = ""
        runtime = request.getfixturevalue("process_runtime")
    (tmp_path / "workdir").mkdir()
    yield Harness(runtime, image, tmp_path)


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    """A bucket directory holding data/f, and a host directory outside it with its own f."""
    (tmp_path / "bucket/data").mkdir(parents=True)
    (tmp_path / "bucket/data/f").write_text("inside\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/f").write_text("OUTSIDE\n")
    return tmp_path / "bucket"


def swap_for_link_out(bucket: Path) -> None:
    """What an instance of another job with a writable mount of the bucket can do."""
    (bucket / "data").rename(bucket / "data.moved")
    (bucket / "data").symlink_to(bucket.parent / "outside")


def mount_of(bucket: Path) -> Need:
    return Need(NeedKind.MOUNT, bucket / "data", "/mnt/data", Access.READ_WRITE, root=bucket)


def swap_after_open(bucket: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Swap the bucket's `data` for a link out right after a runtime opened it to bind it."""
    opened = bind_sources.open_source

    def open_then_swap(bind: Bind) -> int:
        fd = opened(bind)
        if bind.root == bucket:
            swap_for_link_out(bucket)
        return fd

    monkeypatch.setattr(bind_sources, "open_source", open_then_swap)
