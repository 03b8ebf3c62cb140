"""An image file loaded into the Docker engine on first use is told as it begins and ends,
through the same listener as the sandbox's unpacking (no engine, no skopeo: fakes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker.errors
import pytest

from localbatch.config import load_config
from localbatch.images.sources import ImageSources
from localbatch.runtime.docker import DockerRuntime
from localbatch.runtime.docker_images import EngineImages
from localbatch.runtime.image_supply import FOR_DOCKER, ImagePreparation, ImageProblem
from tests.unit.images.saved import docker_archive


class _Api:
    """The engine's images: id -> names."""

    def __init__(self) -> None:
        self.images: dict[str, list[str]] = {}

    def inspect_image(self, reference: str) -> dict[str, Any]:
        if reference not in self.images:
            raise docker.errors.ImageNotFound(f"no such image: {reference}")
        return {"Id": reference, "RepoTags": self.images[reference]}

    def tag(self, image_id: str, repository: str, tag: str) -> None:
        self.images[image_id].append(f"{repository}:{tag}")


class _Client:
    def __init__(self) -> None:
        self.api = _Api()


def _supply(tmp_path: Path, archive: Path) -> EngineImages:
    (tmp_path / "config.toml").write_text(
        f'[image_sources]\n"team/x:1" = "docker-archive:{archive}"\n'
        f'"team/broken:1" = "docker-archive:{archive}"\n'
    )
    config = load_config(tmp_path / "config.toml", env={}, state_dir=tmp_path / "state")
    return EngineImages(ImageSources(config))


def test_an_image_file_loaded_into_the_engine_is_told_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "x.tar"
    digest = docker_archive(archive, b'{"config": {}}')
    client = _Client()
    loads: list[str] = []

    def load(source: str, destination: str, what: str) -> None:
        if "broken" in destination:
            raise ImageProblem(f"{what}: skopeo failed")
        loads.append(destination)
        client.api.images[digest] = [destination.removeprefix("docker-daemon:")]

    monkeypatch.setattr("localbatch.runtime.docker_images.skopeo_copy", load)
    supply = _supply(tmp_path, archive)
    runtime = DockerRuntime(client, images=supply)
    told: list[ImagePreparation] = []
    runtime.tell_preparation(told.append)  # the runtime hands it to its supply

    assert supply.engine_image(client, "team/x:1", {}) == digest
    assert supply.engine_image(client, "team/x:1", {}) == digest  # there already: nothing
    assert loads == ["docker-daemon:team/x:1"]
    begun, ended = told
    source = f"the image file docker-archive:{archive}"
    assert begun == ImagePreparation("team/x:1", source, target=FOR_DOCKER, how="loading")
    assert begun.line() == (
        f"preparing image team/x:1 for the Docker engine (first use: loading it from {source})…"
    )
    assert ended.seconds is not None and not ended.error
    assert ended.line().startswith("image team/x:1 ready for the Docker engine (prepared in ")

    told.clear()
    client.api.images.clear()
    with pytest.raises(ImageProblem):
        supply.engine_image(client, "team/broken:1", {})
    assert [t.seconds is None for t in told] == [True, False] and "skopeo failed" in told[1].error
    assert told[1].line().startswith("preparing image team/broken:1 for the Docker engine failed")
