"""`localbatch images list`: for each image id and image, where it comes from and whether
each runtime has it ready (nothing is pulled, unpacked or built to answer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localbatch.images import engine
from localbatch.images.archives import image_config
from localbatch.images.sources import ImageSources
from localbatch.runtime.image_supply import ImageProblem

NO_ENGINE = "no engine"


@dataclass(frozen=True)
class Readiness:
    image_id: str
    image: str
    #: Where the image comes from, in words.
    source: str
    #: "present", "missing", "loaded on first use", or "no engine".
    docker: str
    #: "ready", "unpacked on first use", "missing", or "host files" (images not used).
    process: str


def readiness(sources: ImageSources, image_id: str, image: str) -> Readiness:
    """How `image` (named by `image_id`) stands for each runtime."""
    client = sources.engine()
    host_files = sources.config.process_files == "host"
    file_source = sources.files.get(image)
    if file_source is not None:
        try:
            config = image_config(file_source)
        except ImageProblem as exc:
            return Readiness(image_id, image, exc.message, "missing", "missing")
        docker = _in_engine(client, config.digest, "loaded on first use")
        process = "ready" if sources.store.get(config.key) else "unpacked on first use"
        return Readiness(
            image_id, image, f"image file {file_source}", docker, _host(host_files, process)
        )
    info = _info(client, image)
    docker = NO_ENGINE if client is None else ("present" if info else "missing")
    built = sources.store.named(image)
    if built is not None:
        return Readiness(image_id, image, built.source, docker, _host(host_files, "ready"))
    if info is not None:
        key = str(info["Id"]).removeprefix("sha256:")
        process = "ready" if sources.store.get(key) else "unpacked on first use"
        return Readiness(image_id, image, "Docker engine", docker, _host(host_files, process))
    source = "nowhere yet: " + _how_to_get(sources, image)
    return Readiness(image_id, image, source, docker, _host(host_files, "missing"))


def _info(client: Any, reference: str) -> dict[str, Any] | None:
    """The engine's answer about `reference`; None without an engine (or an answer)."""
    if client is None:
        return None
    try:
        return engine.image_info(client, reference)
    except engine.ENGINE_ERRORS:
        return None


def _in_engine(client: Any, image_id: str, otherwise: str) -> str:
    if client is None:
        return NO_ENGINE
    return "present" if _info(client, image_id) else otherwise


def _host(host_files: bool, process: str) -> str:
    return "host files" if host_files else process


def _how_to_get(sources: ImageSources, image: str) -> str:
    from localbatch.runtime.images import how_to_get

    return how_to_get(image, default_image=sources.config.default_docker_image)
