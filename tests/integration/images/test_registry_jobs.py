"""Jobs naming `localhost:5000/<name>:<tag>` with a registry OSS path, on both runtimes, from
images pushed through the real registry: by `localbatch images push`, and by a registry
started here by hand (a tree localbatch did not write)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from localbatch.images.registry import registry_config

from .conftest import TinyImage, localbatch, registry_job, run_job, tripwire_tools

pytestmark = [pytest.mark.docker, pytest.mark.sandbox]

SCRIPT = "cat /marker; echo $GREETING; echo $PWD $HOME $USER"
REGISTRY_PATH = "oss://regs/dockers/"


def _push(tmp_path: Path, image: str) -> str:
    """`localbatch images push` in the official CLI's syntax; its report."""
    done = localbatch(tmp_path, "images", "push", f"{image}@{REGISTRY_PATH}")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_pushed_image_runs_on_both_runtimes_and_is_pulled_once(
    tiny_image: TinyImage, default_rootfs: str, docker_client: Any, tmp_path: Path
) -> None:
    name = tiny_image.name
    report = _push(tmp_path, name)
    job_image = f"localhost:5000/{name}"
    assert f"Command.Docker.Image = {job_image}" in report
    assert (tmp_path / "oss/regs/dockers/docker/registry/v2/repositories").is_dir()
    docker_client.api.remove_image(name)  # only the OSS path has it now: nothing tagged by hand

    body = registry_job(job_image, REGISTRY_PATH, SCRIPT)
    expected = f"{tiny_image.marker}\nhello-from-the-image\n/batchcompute/workdir /root root\n"
    for runtime, target, how in (
        ("docker", "the Docker engine", "pulling"),
        ("process", "the sandbox", "unpacking"),
    ):
        ran = run_job(tmp_path, runtime, body)
        assert ran.code == 0, ran.output
        assert ran.log() == expected, runtime
        # Brought in on first use, told as it begins and ends.
        begun = f"preparing image {job_image} for {target} (first use: {how} it from the registry "
        assert ran.output.count(f"{begun}at {REGISTRY_PATH})…") == 1, ran.output
        assert f"image {job_image} ready for {target} (prepared in " in ran.output
    assert job_image in docker_client.api.inspect_image(tiny_image.image_id)["RepoTags"]

    # Cached by digest: a second run on each runtime starts no registry, skopeo or umoci.
    env, marks = tripwire_tools(tmp_path)
    for runtime in ("docker", "process"):
        ran = run_job(tmp_path, runtime, body, env=env)
        assert ran.code == 0, ran.output
        assert ran.log() == expected, runtime
        assert "preparing image" not in ran.output, ran.output
    assert list(marks.glob("called-*")) == []


def test_a_tree_the_registry_wrote_by_itself_is_read_as_it_is(
    tiny_image: TinyImage, default_rootfs: str, docker_client: Any, tmp_path: Path
) -> None:
    """A registry started by hand (as a user would, storage at the OSS path's directory)
    and `docker push`: the tree is the registry's own, not localbatch's."""
    storage = tmp_path / "oss" / "regs" / "dockers"
    storage.mkdir(parents=True)
    config = registry_config(storage, 5000, read_only=False)
    with _registry_by_hand(tmp_path, config) as port:
        pushed = f"127.0.0.1:{port}/team/tool"
        docker_client.api.tag(tiny_image.name, pushed, "v2")
        try:
            for event in docker_client.api.push(pushed, tag="v2", stream=True, decode=True):
                assert "error" not in event, event
        finally:
            docker_client.api.remove_image(f"{pushed}:v2")
    docker_client.api.remove_image(tiny_image.name)

    body = registry_job("localhost:5000/team/tool:v2", REGISTRY_PATH, "cat /marker")
    for runtime in ("process", "docker"):
        ran = run_job(tmp_path, runtime, body)
        assert ran.code == 0, ran.output
        assert ran.log() == f"{tiny_image.marker}\n", runtime


class _registry_by_hand:
    """`docker-registry serve` with a config file written here, on a free loopback port."""

    def __init__(self, tmp_path: Path, config: dict[str, Any]) -> None:
        self.tmp_path = tmp_path
        self.config = config

    def __enter__(self) -> int:
        import socket
        import time
        import urllib.request

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        self.config["http"]["addr"] = f"127.0.0.1:{port}"
        path = self.tmp_path / "registry.yml"
        path.write_text(json.dumps(self.config))
        self.process = subprocess.Popen(["docker-registry", "serve", str(path)])
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for _ in range(200):
            try:
                opener.open(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                return port
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the registry did not start")

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(10)


def test_errors_name_the_image_the_path_and_what_is_missing(
    tiny_image: TinyImage, default_rootfs: str, tmp_path: Path
) -> None:
    _push(tmp_path, tiny_image.name)
    repository = tiny_image.name.rsplit(":", 1)[0]
    cases = {
        "localhost:5000/nobody/here:1": "no repository 'nobody/here' in the registry at "
        f"{REGISTRY_PATH} (repositories there: {repository})",
        f"localhost:5000/{repository}:9": f"no tag '9' in repository '{repository}' of the "
        f"registry at {REGISTRY_PATH} (tags there: 1)",
    }
    for image, message in cases.items():
        for runtime in ("process", "docker"):
            body = registry_job(image, REGISTRY_PATH, "true")
            path = tmp_path / "job.json"
            path.write_text(json.dumps(body))
            # Found before anything starts, with the same words...
            checked = localbatch(tmp_path, "run", str(path), "--runtime", runtime)
            assert checked.returncode == 2, checked.stdout + checked.stderr
            assert f"image {image}: {message}" in checked.stderr, checked.stderr
            # ...and, without the checks, the attempt's ImageNotFound.
            ran = run_job(tmp_path, runtime, body, None, "--no-preflight")
            assert ran.code != 0
            assert f"ImageNotFound: image {image}: {message}" in ran.output, ran.output
