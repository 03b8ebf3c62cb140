"""Overlay work directories seen by real programs running as root (bubblewrap, Docker): a
package file one instance changes in place stays unchanged for another instance prepared at
the same time, and for the cache."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from localbatch.config import Config
from localbatch.runtime.base import AttemptSpec, Runtime, run_attempt
from localbatch.storage import overlay
from localbatch.storage.instance import JobStorage, PreparedAttempt
from localbatch.storage.packages import SMALL_FILE_LIMIT
from tests.unit.storage.storage_helpers import (
    job_storage,
    make_config,
    overlay_mounts_under,
    tar_gz,
    task_body,
    unmount_all_under,
    write,
)

BIG = b"B" * (SMALL_FILE_LIMIT * 2)
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
#: Writes into the large package file in place (no new file, no rename), adds a file.
WRITE_IN_PLACE = "printf changed | dd of=model.bin conv=notrunc 2>/dev/null && echo x > mine.txt"
READ_BACK = "head -c 7 model.bin; test -e mine.txt && echo ' sees mine.txt' || echo"


@pytest.fixture
def config(tmp_path: Path) -> Any:
    availability = overlay.probe(tmp_path / "probe")
    if not availability.usable:
        pytest.skip(f"no overlay mounts here: {availability.reason}")
    config = make_config(tmp_path)
    write(config.oss.root / "bkt/p.tar.gz", tar_gz({"model.bin": BIG}))
    yield config
    unmount_all_under(tmp_path)


@pytest.fixture(params=["process", "docker"])
def runtime_and_image(request: pytest.FixtureRequest) -> tuple[Runtime, str]:
    if request.param == "process":
        from localbatch.runtime.process import ProcessRuntime

        return ProcessRuntime(request.getfixturevalue("bwrap_path")), ""
    from localbatch.runtime.docker import LABEL_OWNER_HOST, DockerRuntime

    runtime = DockerRuntime(request.getfixturevalue("docker_client"))
    runtime.owner_labels[LABEL_OWNER_HOST] = f"localbatch-tests.{uuid.uuid4().hex[:12]}"
    return runtime, request.getfixturevalue("default_image")


def run(
    runtime: Runtime, image: str, storage: JobStorage, prepared: PreparedAttempt, script: str
) -> str:
    spec = AttemptSpec(
        job_id=storage.job_id,
        task_name="t",
        instance_id=int(prepared.attempt_dir.name.split(".")[1]),
        attempt=0,
        argv=("sh", "-c", script),
        env=ENV,
        needs=prepared.needs,
        image=image,
        stdout_path=prepared.stdout_path,
        stderr_path=prepared.stderr_path,
    )
    outcome = run_attempt(runtime, spec, 60, threading.Event())
    assert outcome.succeeded, (outcome, prepared.stderr_path.read_text())
    return prepared.stdout_path.read_text()


def test_a_root_program_writing_a_package_file_in_place_changes_only_its_view(
    config: Config, runtime_and_image: tuple[Runtime, str]
) -> None:
    runtime, image = runtime_and_image
    task = task_body(
        Parameters={"Command": {"CommandLine": "x", "PackagePath": "oss://bkt/p.tar.gz"}}
    )
    storage = job_storage(config, {"t": task}, job_id=f"job-{uuid.uuid4().hex[:8]}")
    writer, reader = storage.prepare("t", 0, 0), storage.prepare("t", 1, 0)
    assert writer.package_copy == reader.package_copy == "overlay"

    run(runtime, image, storage, writer, WRITE_IN_PLACE)
    assert run(runtime, image, storage, reader, READ_BACK) == "BBBBBBB\n"
    assert (writer.workdir / "model.bin").read_bytes()[:7] == b"changed"
    assert reader.package is not None
    assert (reader.package.tree / "model.bin").read_bytes() == BIG

    storage.finish(writer)
    storage.finish(reader)
    assert overlay_mounts_under(storage.work_root) == []
