"""`localbatch images list`: for each image id and image, where it comes from and whether
each runtime has it ready (nothing is pulled, unpacked or built to answer)."""

from __future__ import annotations

from dataclasses import dataclass

from localbatch.images.archives import image_config
from localbatch.images.sources import ImageSources
from localbatch.runtime.image_supply import EngineImageStore, ImageProblem

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
    engine = sources.engine()
    host_files = sources.config.sandbox_files == "host"
    file_source = sources.files.get(image)
    if file_source is not None:
        try:
            config = image_config(file_source)
        except ImageProblem as exc:
            return Readiness(image_id, image, exc.message, "missing", "missing")
        docker = _in_engine(engine, config.digest, "loaded on first use")
        process = "ready" if sources.store.get(config.key) else "unpacked on first use"
        return Readiness(
            image_id, image, f"image file {file_source}", docker, _host(host_files, process)
        )
    image_id_here = _image_id(engine, image)
    docker = NO_ENGINE if engine is None else ("present" if image_id_here else "missing")
    built = sources.store.named(image)
    if built is not None:
        return Readiness(image_id, image, built.source, docker, _host(host_files, "ready"))
    if image_id_here is not None:
        key = image_id_here.removeprefix("sha256:")
        process = "ready" if sources.store.get(key) else "unpacked on first use"
        return Readiness(image_id, image, "Docker engine", docker, _host(host_files, process))
    source = "nowhere yet: " + _how_to_get(sources, image)
    return Readiness(image_id, image, source, docker, _host(host_files, "missing"))


def _image_id(engine: EngineImageStore | None, reference: str) -> str | None:
    """The engine's image id for `reference`; None without an engine (or an answer)."""
    if engine is None:
        return None
    try:
        return engine.image_id(reference)
    except ImageProblem:
        return None


def _in_engine(engine: EngineImageStore | None, image_id: str, otherwise: str) -> str:
    if engine is None:
        return NO_ENGINE
    return "present" if _image_id(engine, image_id) else otherwise


def _host(host_files: bool, process: str) -> str:
    return "host files" if host_files else process


def _how_to_get(sources: ImageSources, image: str) -> str:
    from localbatch.runtime.images import how_to_get

    return how_to_get(image, default_image=sources.config.default_docker_image)
