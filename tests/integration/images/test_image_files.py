"""Images kept as files (`[image_sources]`): a `docker save` archive and an OCI layout run
on the process runtime with no Docker engine, and are loaded into the engine for Docker."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from localbatch.config import parse_image_file
from localbatch.images.archives import image_config
from localbatch.images.tools import skopeo_copy
from tests.integration.serve_process import ServeProcess, eventually, kill_leftovers

from .conftest import TinyImage, image_job, import_tiny, run_job, write_config

pytestmark = [pytest.mark.docker, pytest.mark.sandbox]

SCRIPT = "cat /marker; echo $GREETING"


def test_image_files_run_on_both_runtimes(
    tiny_image: TinyImage, docker_client: Any, default_rootfs: str, tmp_path: Path
) -> None:
    archive = tiny_image.save(tmp_path / "tiny.tar")
    layout = tmp_path / "layout"
    skopeo_copy(f"docker-archive:{archive}", f"oci:{layout}:tiny", "test")
    sources = {
        "files/archived:1": f"docker-archive:{archive}",
        "files/layout:1": f"oci:{layout}:tiny",
    }
    write_config(tmp_path / "config.toml", image_sources=sources)
    expected = f"{tiny_image.marker}\nhello-from-the-image\n"
    no_engine = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    try:
        for image in ("files/archived:1", "files/layout:1"):
            body = image_job(SCRIPT, BATCH_COMPUTE_DOCKER_IMAGE=image)
            ran = run_job(tmp_path, "process", body, env=no_engine)
            assert ran.code == 0, ran.output
            assert ran.log() == expected, image
            # Its first use on the sandbox: the unpacking is told as it begins and ends.
            begun = f"preparing image {image} for the sandbox (first use: unpacking it from "
            assert ran.output.count(begun) == 1, ran.output
            assert f"image {image} ready for the sandbox (prepared in " in ran.output
            ran = run_job(tmp_path, "docker", body)
            assert ran.code == 0, ran.output
            assert ran.log() == expected, image
            # Loaded into the engine on its first use there, told the same way; the archive's
            # image is the engine's own already (the fixture's): named, not loaded, not told.
            begun = f"preparing image {image} for the Docker engine (first use: loading it from "
            loaded = image == "files/layout:1"
            assert ran.output.count(begun) == loaded, ran.output
            ended = f"image {image} ready for the Docker engine (prepared in "
            assert (ended in ran.output) == loaded, ran.output
            # The engine holds exactly the file's image (skopeo's OCI copy has its own id).
            source = parse_image_file(sources[image])
            assert docker_client.api.inspect_image(image)["Id"] == image_config(source).digest
        assert image_config(parse_image_file(sources["files/archived:1"])).digest == (
            tiny_image.image_id
        )
    finally:  # a run that failed before the engine loaded an image leaves none to remove
        for image in ("files/archived:1", "files/layout:1"):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.api.remove_image(image)


def test_an_image_entrypoint_runs_before_the_command_on_both_runtimes(
    docker_client: Any, default_rootfs: str, tmp_path: Path
) -> None:
    entrypoint = '["/bin/sh", "-c", "echo entrypoint; exec \\"$0\\" \\"$@\\""]'
    image = import_tiny(docker_client, "localbatch-test/entry:1", f"ENTRYPOINT {entrypoint}")
    try:
        archive = image.save(tmp_path / "entry.tar")
    finally:
        docker_client.api.remove_image(image.name)
    sources = {"files/entry:1": f"docker-archive:{archive}"}
    write_config(tmp_path / "config.toml", image_sources=sources)
    body = image_job("cat /marker", BATCH_COMPUTE_DOCKER_IMAGE="files/entry:1")
    try:
        for runtime in ("process", "docker"):
            ran = run_job(tmp_path, runtime, body)
            assert ran.code == 0, ran.output
            assert ran.log() == f"entrypoint\n{image.marker}\n", runtime
    finally:
        docker_client.api.remove_image("files/entry:1")


def test_serve_logs_an_image_prepared_on_first_use(
    tiny_image: TinyImage, docker_client: Any, tmp_path: Path
) -> None:
    """Unpacked for the sandbox, loaded into the Docker engine: each told in serve's log."""
    image = "files/served:1"
    archive = tiny_image.save(tmp_path / "tiny.tar")
    docker_client.api.remove_image(tiny_image.name)  # only the file has it: Docker loads it
    config = write_config(
        tmp_path / "config.toml", image_sources={image: f"docker-archive:{archive}"}
    )
    no_engine = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    try:
        for runtime, target, how, env in (
            ("process", "the sandbox", "unpacking", no_engine),
            ("docker", "the Docker engine", "loading", {}),
        ):
            env = {**env, "LOCALBATCH_CONFIG": str(config)}
            text = _served_job(ServeProcess(tmp_path / runtime, runtime=runtime, env=env), image)
            begun = f"preparing image {image} for {target} (first use: {how} it from the image "
            assert text.count(begun) == 1, text
            assert f"image {image} ready for {target} (prepared in " in text
    finally:
        kill_leftovers()
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.api.remove_image(image)


def _served_job(server: ServeProcess, image: str) -> str:
    """Run one job of `image` on `server` to its end and stop the server; what it logged."""
    body = image_job(SCRIPT, BATCH_COMPUTE_DOCKER_IMAGE=image)
    finished = f"job {server.request('POST', '/jobs', body)['Id']} Finished"
    eventually(lambda: finished in server.output(), failure=server.output)
    assert server.terminate() == 0
    return server.output()
