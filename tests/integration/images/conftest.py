"""Small real images for the registry and image-file tests, made from this host's own
programs (no registry is reachable): `sh`, `cat` and `env` with the C library they need,
a marker file and an image variable, imported into the engine under a name of the test's."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import pytest

#: The host's programs the images carry, and where in the image.
PROGRAMS = {"/usr/bin/dash": "bin/sh", "/usr/bin/cat": "bin/cat", "/usr/bin/env": "bin/env"}
IMAGE_ENV = "GREETING=hello-from-the-image"


def _libraries(programs: list[str]) -> set[str]:
    """The shared objects the programs load (their paths on this host, from ldd)."""
    found: set[str] = set()
    for program in programs:
        listing = subprocess.run(["ldd", program], capture_output=True, text=True, check=True)
        found.update(re.findall(r"(/\S+\.so[.\d]*)", listing.stdout))
    return found


def tiny_rootfs(marker: str) -> bytes:
    """A tar of a minimal root file system: the programs, their libraries, /marker."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        entries = dict(PROGRAMS)
        for library in _libraries(list(PROGRAMS)):
            entries[os.path.realpath(library)] = library.lstrip("/")
        for source, inside in sorted(entries.items(), key=lambda item: item[1]):
            info = tar.gettarinfo(source, arcname=inside)
            with open(source, "rb") as handle:
                tar.addfile(info, handle)
        data = f"{marker}\n".encode()
        info = tarfile.TarInfo("marker")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class TinyImage:
    """One tiny image in the engine: its name and the marker it carries."""

    name: str
    marker: str
    client: Any
    image_id: str

    def save(self, path: Path) -> Path:
        """`docker save` of it into `path`."""
        with path.open("wb") as sink:
            for chunk in self.client.api.get_image(self.name):
                sink.write(chunk)
        return path


def import_tiny(client: Any, name: str, *changes: str) -> TinyImage:
    """Import a tiny image as `name`, with its variable and any further Dockerfile
    `changes` (ENTRYPOINT ...)."""
    marker = f"tiny-{uuid.uuid4().hex[:12]}"
    repository, _, tag = name.rpartition(":")
    client.api.import_image_from_data(
        tiny_rootfs(marker), repository=repository, tag=tag, changes=[f"ENV {IMAGE_ENV}", *changes]
    )
    return TinyImage(name, marker, client, str(client.api.inspect_image(name)["Id"]))


@pytest.fixture
def tiny_image(docker_client: Any) -> Iterator[TinyImage]:
    """A fresh tiny image (its own marker, so its own id), removed with every name it got."""
    image = import_tiny(docker_client, f"localbatch-test/tiny-{uuid.uuid4().hex[:8]}:1")
    image_id = image.image_id
    yield image
    with contextlib.suppress(docker.errors.NotFound):
        for name in docker_client.api.inspect_image(image_id).get("RepoTags") or []:
            docker_client.api.remove_image(name)


def write_config(path: Path, **tables: dict[str, str]) -> Path:
    """A config file with the given string tables."""
    lines = []
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Ran:
    """One `localbatch run`: its exit status, output, job id and OSS root."""

    code: int
    output: str
    job_id: str
    oss_root: Path

    def log(self, task: str = "t", instance_id: int = 0, stream: str = "stdout") -> str:
        name = f"{stream}.{self.job_id}.{task}.{instance_id}"
        return (self.oss_root / "itest" / "logs" / name).read_text()


def registry_job(image: str, oss_path: str, script: str) -> dict[str, Any]:
    """One task running `script` in `image` from the registry stored at `oss_path`, as
    `bcs sub --docker image@oss_path` writes it (the image and path in EnvVars)."""
    return image_job(
        script,
        BATCH_COMPUTE_DOCKER_IMAGE=image,
        BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH=oss_path,
    )


def image_job(script: str, **env_vars: str) -> dict[str, Any]:
    """One task running `script` (its image named by `BATCH_COMPUTE_DOCKER_IMAGE` in
    `env_vars`, else img-ubuntu's), logs under oss://itest/logs/."""
    command = {"CommandLine": f"sh -c '{script}'", "PackagePath": "", "EnvVars": env_vars}
    task = {
        "Parameters": {
            "Command": command,
            "StdoutRedirectPath": "oss://itest/logs/",
            "StderrRedirectPath": "oss://itest/logs/",
        },
        "InstanceCount": 1,
        "MaxRetryCount": 0,
        "Timeout": 120,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
    }
    return {"Name": "image-job", "Type": "DAG", "DAG": {"Tasks": {"t": task}}}


def localbatch(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`localbatch ARGS` with the test's state dir, OSS root and config file."""
    command = [sys.executable, "-m", "localbatch", *args]
    command += ["--state-dir", str(tmp_path / "state"), "--oss-root", str(tmp_path / "oss")]
    full_env = {**os.environ, "LOCALBATCH_CONFIG": str(tmp_path / "config.toml"), **(env or {})}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=full_env, check=False
    )


def run_job(
    tmp_path: Path,
    runtime: str,
    body: dict[str, Any],
    env: dict[str, str] | None = None,
    *extra: str,
) -> Ran:
    path = tmp_path / f"job-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(body))
    done = localbatch(tmp_path, "run", str(path), "--runtime", runtime, *extra, env=env)
    output = done.stdout + done.stderr
    found = re.search(r"job (job-[0-9A-F]{32})", output)
    assert found, output
    return Ran(done.returncode, output, found.group(1), tmp_path / "oss")


def tripwire_tools(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose PATH finds a registry, skopeo and umoci that only leave a mark
    in the returned directory and fail: a run that must not pull anything uses it."""
    directory = tmp_path / "tripwires"
    directory.mkdir()
    for name in ("docker-registry", "skopeo", "umoci"):
        tool = directory / name
        tool.write_text(f"#!/bin/sh\ntouch {directory}/called-{name}\nexit 1\n")
        tool.chmod(0o755)
    return {"PATH": f"{directory}:{os.environ.get('PATH', '/usr/bin:/bin')}"}, directory
