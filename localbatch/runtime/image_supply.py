"""What a runtime asks of whoever supplies its images, so runtimes never read OSS or config.

The Docker runtime asks for the engine reference to create a container from (an image the
OSS-backed registry or an archive brought into the engine first); the process runtime asks
for a prepared root file system. `localbatch.images.sources.ImageSources` answers both;
tests may answer with anything of this shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

#: The error code of an attempt whose image cannot be had (the service's word for it).
IMAGE_NOT_FOUND = "ImageNotFound"


class ImageProblem(Exception):
    """The image cannot be brought into the runtime; the message names the image, where it
    was looked for and what is missing. `code` is what the attempt records."""

    def __init__(self, message: str, code: str = IMAGE_NOT_FOUND) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PreparedRootfs:
    """An image unpacked once into a directory that attempts use as their read-only lower
    layer, with what the image's config says about running it."""

    #: The cache key: the image's config digest (its Docker image id) without "sha256:", or
    #: the id given to a root file system built without Docker.
    key: str
    rootfs: Path
    #: The image's own environment (`Config.Env`), under the attempt's variables.
    env: Mapping[str, str] = field(default_factory=dict)
    #: The image's `Config.Entrypoint`: the argv follows it, as `docker run` does.
    entrypoint: tuple[str, ...] = ()
    #: Where it came from, in words ("registry oss://bucket/path/", "Docker engine", ...).
    source: str = ""


class RootfsSupply(Protocol):
    #: Where the process runtime makes attempts' private layers over these images.
    @property
    def attempts_dir(self) -> Path: ...

    def root_for(self, image: str, env: Mapping[str, str]) -> PreparedRootfs:
        """The prepared root file system of `image` (the attempt's `env` may name an
        OSS-backed registry); raises ImageProblem."""


class EngineSupply(Protocol):
    def engine_image(self, client: Any, image: str, env: Mapping[str, str]) -> str:
        """The reference to create a container from: `image` itself, or the id of the image
        brought into the engine for it; raises ImageProblem."""
