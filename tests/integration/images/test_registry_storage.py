"""The registry process and the storage it serves: loopback only, gone after; a remote OSS
path (any fsspec file system) mirrored for pulls and uploaded to by pushes; broken trees
named precisely."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest

from localbatch.config import load_config
from localbatch.images.push import push_image
from localbatch.images.registry import loopback_registry
from localbatch.images.sources import ImageSources
from localbatch.images.tree import V2, blob_path
from localbatch.runtime.docker_images import EngineImages
from localbatch.runtime.image_supply import ImageProblem
from localbatch.runtime.images import engine_image_store

from .conftest import TinyImage, write_config


def _registries() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.name() == "docker-registry"]


def test_the_registry_listens_on_loopback_only_and_stops_after(tmp_path: Path) -> None:
    with loopback_registry(tmp_path, read_only=True) as address:
        host, _, port = address.partition(":")
        assert host == "127.0.0.1"
        (registry,) = _registries()
        listening = [c.laddr for c in registry.net_connections("inet") if c.status == "LISTEN"]
        assert [(a.ip, a.port) for a in listening] == [("127.0.0.1", int(port))]
    assert not registry.is_running() or registry.status() == psutil.STATUS_ZOMBIE
    assert _registries() == []


def _sources(tmp_path: Path, **tables: dict[str, str]) -> ImageSources:
    config_file = write_config(tmp_path / "config.toml", **tables)
    return ImageSources(
        load_config(config_file, env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss"),
        engine_factory=engine_image_store,
    )


@pytest.mark.docker
@pytest.mark.sandbox
def test_a_remote_oss_path_is_pushed_to_and_pulled_from(
    tiny_image: TinyImage, docker_client: Any, tmp_path: Path
) -> None:
    """A bucket that is no local directory (fsspec's memory file system here, real OSS
    through ossfs in use): the push uploads what the registry wrote, a pull copies what
    serving needs into a local mirror, for both runtimes."""
    bucket = f"mem{uuid.uuid4().hex[:8]}"
    sources = _sources(tmp_path, **{"oss.buckets": {bucket: f"memory://{bucket}"}})
    pushed = push_image(sources, tiny_image.name, f"oss://{bucket}/dockers/")
    fs = sources.resolver.resolve(f"oss://{bucket}/dockers/").fs
    assert fs.exists(f"/{bucket}/dockers/{blob_path(pushed.resolved.config_digest)}")
    docker_client.api.remove_image(tiny_image.name)

    env = {"BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH": f"oss://{bucket}/dockers/"}
    job_image = pushed.target.job_image
    root = sources.root_for(job_image, env)
    assert (root.rootfs / "marker").read_text() == f"{tiny_image.marker}\n"
    assert root.key == tiny_image.image_id.removeprefix("sha256:")
    assert root.env["GREETING"] == "hello-from-the-image"
    assert EngineImages(sources).engine_image(docker_client, job_image, env) == (
        tiny_image.image_id
    )
    mirrored = list(sources.store.mirrors_dir.glob(f"*/{V2}/blobs/sha256/*/*/data"))
    assert len(mirrored) == 1 + len(pushed.resolved.blobs)  # the manifest, config and layer


@pytest.mark.docker
@pytest.mark.sandbox
def test_broken_blobs_are_named(tiny_image: TinyImage, docker_client: Any, tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    pushed = push_image(sources, f"{tiny_image.name}@oss://regs/dockers/", None)
    docker_client.api.remove_image(tiny_image.name)
    env = {"BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH": "oss://regs/dockers/"}
    image = pushed.target.job_image
    (layer,) = [b for b in pushed.resolved.blobs if b.what != "config"]
    data = tmp_path / "oss/regs/dockers" / layer.path
    original = data.read_bytes()

    data.write_bytes(original[:-10])  # truncated: seen before anything is pulled
    with pytest.raises(ImageProblem) as short:
        sources.root_for(image, env)
    assert short.value.message == (
        f"image {image}: broken blob: its layer 1 of 1 {layer.digest} at oss://regs/dockers/"
        f"{layer.path} is {len(original) - 10} bytes, its manifest says {len(original)}"
    )

    data.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))  # same size, wrong bytes
    for bring in (
        lambda: sources.root_for(image, env),
        lambda: EngineImages(sources).engine_image(docker_client, image, env),
    ):
        with pytest.raises(ImageProblem) as corrupt:
            bring()
        message = corrupt.value.message
        assert message.startswith(f"image {image} from the registry at oss://regs/dockers/: ")
        assert layer.digest in message
        assert "verification failed" in message or "Digest did not match" in message

    data.unlink()
    with pytest.raises(
        ImageProblem,
        match=f"broken blob: its layer 1 of 1 {layer.digest} is "
        "missing from the registry at oss://regs/dockers/",
    ):
        EngineImages(sources).engine_image(docker_client, image, env)
