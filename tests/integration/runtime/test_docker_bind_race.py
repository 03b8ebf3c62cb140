"""A bind source swapped for a link while the container is made: Docker is given a private
mount of the directory that was opened, so the container binds it, or nothing
(docs/security.md, "Known limits")."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from localbatch.runtime.base import AttemptHandle
from localbatch.runtime.docker import DockerRuntime

from .conftest import (
    Harness,
    mount_of,
    session_docker_runtime,
    swap_after_open,
    swap_for_link_out,
)

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0, reason="private bind mounts need root"),
]


@pytest.fixture
def pinning(docker_client: Any, default_image: str, tmp_path: Path) -> Harness:
    runtime = session_docker_runtime(docker_client, state_dir=tmp_path / "state")
    runtime.check()
    assert runtime.private_binds is not None and runtime.private_binds.usable()
    (tmp_path / "workdir").mkdir()
    return Harness(runtime, default_image, tmp_path)


def mounts_under(directory: Path) -> list[str]:
    with open("/proc/self/mountinfo") as table:
        points = [line.split()[4] for line in table]
    return [p for p in points if p.startswith(f"{directory}/")]


def test_a_source_swapped_after_it_was_opened_is_still_what_the_container_binds(
    pinning: Harness, bucket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    swap_after_open(bucket, monkeypatch)  # between the open and the container's creation
    binds = pinning.root / "state/binds"
    left_at_start: list[str] = []

    def look(handle: AttemptHandle) -> None:
        left_at_start.extend(mounts_under(binds))

    # It reads after the start returned, so after the private mount is gone on the host.
    script = "sleep 0.5; cat /mnt/data/f; echo written > /mnt/data/new"
    outcome = pinning.run(
        pinning.spec("sh", "-c", script, needs=(mount_of(bucket),)), on_started=look
    )
    assert outcome.succeeded, outcome
    assert pinning.stdout.read_text() == "inside\n"
    assert (bucket / "data.moved/new").read_text() == "written\n"
    assert sorted(os.listdir(bucket.parent / "outside")) == ["f"]
    assert left_at_start == []
    assert list(binds.glob("*/*")) == []  # the attempt's private directory removed too


def test_a_source_swapped_for_a_link_out_before_it_is_opened_is_refused(
    pinning: Harness, bucket: Path
) -> None:
    swap_for_link_out(bucket)
    outcome = pinning.run(pinning.spec("cat", "/mnt/data/f", needs=(mount_of(bucket),)))
    assert outcome.error_code == "InstanceStartFailed"
    assert outcome.error_message == (
        "A host path to bind leads outside its directory through a symbolic link: "
        f"{bucket / 'data'}"
    )
    assert mounts_under(pinning.root / "state") == []


def test_without_a_state_dir_binds_go_by_path(docker_client: Any) -> None:
    assert DockerRuntime(docker_client).private_binds is None
