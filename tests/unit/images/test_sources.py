"""Where an image is looked for, in order, for the process runtime and the Docker runtime
(cache hits only: nothing here runs a tool or an engine)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from localbatch.config import load_config
from localbatch.images.sources import ImageSources
from localbatch.images.store import RunConfig
from localbatch.runtime.docker_images import DockerImageStore, EngineImages
from localbatch.runtime.image_supply import ImagePreparation, ImageProblem
from tests.unit.images.saved import docker_archive

ENGINE_KEY = "e" * 64


class _Api:
    def __init__(self, images: Mapping[str, str]) -> None:
        self.images = images

    def inspect_image(self, name: str) -> dict[str, Any]:
        if name not in self.images:
            raise docker.errors.ImageNotFound(f"no such image: {name}")
        return {"Id": self.images[name], "RepoTags": [name]}


class _Engine:
    def __init__(self, images: Mapping[str, str]) -> None:
        self.api = _Api(images)


def _sources(tmp_path: Path, text: str = "", engine: Any = None) -> ImageSources:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "config.toml").write_text(text)
    config = load_config(tmp_path / "config.toml", env={}, state_dir=tmp_path / "state")
    factory = (lambda: DockerImageStore(engine)) if engine else None
    return ImageSources(config, engine_factory=factory)


def _made(sources: ImageSources, key: str, marker: str) -> None:
    def fill(work: Path) -> RunConfig:
        (work / "rootfs").mkdir()
        (work / "rootfs" / "marker").write_text(marker)
        return RunConfig()

    sources.store.prepare(key, marker, fill)


def test_the_order_file_then_built_then_engine(tmp_path: Path) -> None:
    file_key = docker_archive(tmp_path / "x.tar", b'{"config": {}}').removeprefix("sha256:")
    config = f'[image_sources]\n"team/x:1" = "docker-archive:{tmp_path}/x.tar"\n'
    engine = _Engine({"team/x:1": f"sha256:{ENGINE_KEY}", "team/y:1": f"sha256:{ENGINE_KEY}"})
    sources = _sources(tmp_path, config, engine)
    _made(sources, file_key, "from the file")
    _made(sources, ENGINE_KEY, "from the engine")
    _made(sources, "built-1", "built here")
    sources.store.record_name("team/y:1", "built-1")

    def marker(image: str) -> str:
        return (sources.root_for(image, {}).rootfs / "marker").read_text()

    assert marker("team/x:1") == "from the file"  # although the engine has one too
    assert marker("team/y:1") == "built here"  # although the engine has one too
    engine.api.images = {"team/z:1": f"sha256:{ENGINE_KEY}"}
    assert marker("team/z:1") == "from the engine"


def test_an_image_found_nowhere(tmp_path: Path) -> None:
    sources = _sources(tmp_path, engine=_Engine({}))
    with pytest.raises(ImageProblem) as caught:
        sources.root_for("team/w:1", {})
    assert caught.value.code == "ImageNotFound"
    assert caught.value.message.startswith(
        "The image team/w:1 is not available to the process runtime: it is not built here "
        "(`localbatch images build`), not named in [image_sources], and the Docker engine "
        "has no image of that name: load it"
    )
    without_engine = _sources(tmp_path / "other")
    with pytest.raises(ImageProblem, match="no Docker engine answers to read it from"):
        without_engine.root_for("team/w:1", {})


def test_the_docker_runtime_gets_other_images_as_named(tmp_path: Path) -> None:
    supply = EngineImages(_sources(tmp_path))
    assert supply.engine_image(object(), "team/w:1", {}) == "team/w:1"
    env = {"BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH": "oss://b/p/"}
    assert supply.engine_image(object(), "team/w:1", env) == "team/w:1"  # not localhost:5000


def test_the_checks_before_a_run_bring_nothing(tmp_path: Path) -> None:
    """Whether an image can be had, and whether its root is ready, without unpacking it."""
    file_key = docker_archive(tmp_path / "x.tar", b'{"config": {}}').removeprefix("sha256:")
    config = (
        f'[image_sources]\n"team/x:1" = "docker-archive:{tmp_path}/x.tar"\n'
        f'"team/bad:1" = "docker-archive:{tmp_path}/absent.tar"\n'
    )
    engine = _Engine({"team/e:1": f"sha256:{ENGINE_KEY}"})
    sources = _sources(tmp_path, config, engine)
    assert sources.image_problem("team/x:1", {}) is None  # its file is readable
    assert sources.image_problem("team/e:1", {}) is None  # the engine has it
    bad = sources.image_problem("team/bad:1", {})
    assert bad is not None and "absent.tar" in bad
    nowhere = sources.image_problem("team/w:1", {})
    assert nowhere is not None and nowhere.startswith("The image team/w:1 is not available")
    # Not unpacked yet: can be had, but not ready (the program check then says nothing).
    assert sources.ready_root("team/x:1", {}) is None
    assert sources.ready_root("team/e:1", {}) is None
    _made(sources, file_key, "from the file")
    _made(sources, ENGINE_KEY, "from the engine")
    ready = sources.ready_root("team/x:1", {})
    assert ready is not None and (ready.rootfs / "marker").read_text() == "from the file"
    assert sources.ready_root("team/e:1", {}) is not None
    # The Docker runtime's supply answers its own names by what it is given.
    supply = EngineImages(sources)
    assert supply.brought_problem("team/x:1", {}, lambda name: "never asked") is None
    assert supply.brought_problem("team/e:1", {}, lambda name: f"asked {name}") == "asked team/e:1"


def test_an_image_prepared_on_first_use_is_told_as_it_begins_and_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once for the unpacking; nothing when it is prepared already; a failure is told too."""
    unpacked: list[str] = []

    def unpack(source: str, work: Path, what: str) -> RunConfig:
        if "broken" in what:
            raise ImageProblem(f"{what}: skopeo failed")
        unpacked.append(source)
        (work / "rootfs").mkdir()
        return RunConfig()

    monkeypatch.setattr("localbatch.images.sources.unpack_image", unpack)
    broken_key = "b" * 64
    engine = _Engine({"team/x:1": f"sha256:{ENGINE_KEY}", "broken:1": f"sha256:{broken_key}"})
    sources = _sources(tmp_path, engine=engine)
    told: list[ImagePreparation] = []
    sources.tell_preparation(told.append)
    sources.root_for("team/x:1", {})
    sources.root_for("team/x:1", {})
    assert unpacked == [f"docker-daemon:sha256:{ENGINE_KEY}"]
    begun, ended = told
    assert begun == ImagePreparation("team/x:1", "the Docker engine")
    assert begun.line() == (
        "preparing image team/x:1 for the sandbox (first use: unpacking it from the Docker engine)…"
    )
    assert ended.seconds is not None and not ended.error
    assert ended.line().startswith("image team/x:1 ready for the sandbox (prepared in ")
    told.clear()
    with pytest.raises(ImageProblem):
        sources.root_for("broken:1", {})
    assert [t.seconds is None for t in told] == [True, False] and "skopeo failed" in told[1].error
    assert told[1].line().startswith("preparing image broken:1 for the sandbox failed after ")


def test_a_listener_that_fails_does_not_stop_the_preparation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unpack(source: str, work: Path, what: str) -> RunConfig:
        (work / "rootfs").mkdir()
        return RunConfig()

    def listener(preparation: ImagePreparation) -> None:
        raise OSError("the terminal went away")

    monkeypatch.setattr("localbatch.images.sources.unpack_image", unpack)
    sources = _sources(tmp_path, engine=_Engine({"team/x:1": f"sha256:{ENGINE_KEY}"}))
    sources.tell_preparation(listener)
    assert sources.root_for("team/x:1", {}).key == ENGINE_KEY
