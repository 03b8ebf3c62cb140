"""What a runtime asks of whoever supplies its images, so runtimes never read OSS or config.

The Docker runtime asks for the engine reference to create a container from (an image the
OSS-backed registry or an archive brought into the engine first); the process runtime asks
for a prepared root file system. `localbatch.images.sources.ImageSources` answers both;
tests may answer with anything of this shape.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from localbatch.runtime.base import WORKDIR

#: The error code of an attempt whose image cannot be had (the service's word for it).
IMAGE_NOT_FOUND = "ImageNotFound"
#: Host files every sandbox sees in its image, read-only, when the host has them.
HOST_FILES = ("/etc/resolv.conf", "/etc/hosts")


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


#: What an image is made ready for: unpacked into a root file system for the process
#: runtime's sandbox, or brought into the Docker engine (pulled from the OSS-backed registry,
#: loaded from an image file) for the Docker runtime.
FOR_SANDBOX = "the sandbox"
FOR_DOCKER = "the Docker engine"


@dataclass(frozen=True)
class ImagePreparation:
    """An image being made ready for a runtime on its first use (many seconds: unpacked for
    the sandbox, pulled or loaded into the Docker engine), told as it begins and as it ends
    so that a run does not sit in Waiting without a word."""

    image: str
    #: Where it comes from, in words: "the Docker engine", "the image file /x.tar".
    source: str
    #: None while it is under way; then how long it took.
    seconds: float | None = None
    #: Why it failed ("" when it did not); the attempt's error says it in full.
    error: str = ""
    #: What it is made ready for (FOR_SANDBOX, FOR_DOCKER).
    target: str = FOR_SANDBOX
    #: How it is brought from `source`: "unpacking", "pulling", "loading".
    how: str = "unpacking"

    def ended(self, seconds: float, error: str = "") -> ImagePreparation:
        """The same preparation, over after `seconds` (failed, with `error`)."""
        return replace(self, seconds=seconds, error=error)

    def line(self) -> str:
        """What a person reads: "preparing image X for the sandbox (first use: …)…"."""
        if self.seconds is None:
            return (
                f"preparing image {self.image} for {self.target} "
                f"(first use: {self.how} it from {self.source})…"
            )
        if self.error:
            return (
                f"preparing image {self.image} for {self.target} failed after {self.seconds:.1f}s"
            )
        return f"image {self.image} ready for {self.target} (prepared in {self.seconds:.1f}s)"

    def under_way(self, elapsed: float) -> str:
        """What a live display shows while it lasts: "… for the sandbox (first use): 12s"."""
        return f"preparing image {self.image} for {self.target} (first use): {elapsed:.0f}s"


#: Told of each image preparation as it begins and ends (called on the attempt's thread).
PreparationListener = Callable[[ImagePreparation], None]


@runtime_checkable
class TellsPreparation(Protocol):
    """A runtime, or an image supply, that prepares images on first use and tells whoever
    shows the run (`localbatch run`, `start`, `serve`'s log) as it does."""

    def tell_preparation(self, listener: PreparationListener) -> None:
        """Tell `listener` of the preparations from now on (replacing any before)."""


@runtime_checkable
class ChecksRootfs(Protocol):
    """A supply of root file systems that can tell, before anything runs and without
    bringing anything, whether an image can be had and whether it is prepared already."""

    def image_problem(self, image: str, env: Mapping[str, str]) -> str | None:
        """Why `image` could not be had (None when it can)."""

    def ready_root(self, image: str, env: Mapping[str, str]) -> PreparedRootfs | None:
        """The image's root file system when it is prepared already, else None."""


@runtime_checkable
class ChecksBroughtImages(Protocol):
    """A supply that can tell, without bringing anything, whether an image it brings (from
    a registry, an image file) can be had."""

    def brought_problem(
        self, image: str, env: Mapping[str, str], otherwise: Callable[[str], str | None]
    ) -> str | None:
        """Why `image` could not be had (None when it can); an image the supply does not
        bring is answered by `otherwise`."""


class RootfsSupply(Protocol):
    #: Where the process runtime makes attempts' private layers over these images.
    @property
    def attempts_dir(self) -> Path: ...

    def root_for(self, image: str, env: Mapping[str, str]) -> PreparedRootfs:
        """The prepared root file system of `image` (the attempt's `env` may name an
        OSS-backed registry); raises ImageProblem."""


class EngineImageStore(Protocol):
    """The Docker engine's images, as whoever supplies images needs them (the engine is the
    runtime's: only runtime modules speak to it)."""

    def image_id(self, name: str) -> str | None:
        """The id of the engine's image `name` (its config digest), None when it has none;
        ImageProblem when the engine does not answer."""

    def push(self, local_image: str, target: str, what: str) -> None:
        """Push the engine's `local_image` as `target` (`127.0.0.1:PORT/<repo>:<tag>`)."""


def make_mount_points(rootfs: Path) -> None:
    """Create in a prepared image what every attempt binds onto (the work directory, the
    host's network files), so that an attempt's private layer stays empty unless the
    program writes (and the layer can serve the next attempt). Never through a link of the
    image, which could lead out of it: then bwrap makes it in the attempt's layer."""
    for inside, is_dir in ((WORKDIR, True), *((name, False) for name in HOST_FILES)):
        current = rootfs
        parts = inside.strip("/").split("/")
        for index, part in enumerate(parts):
            current = current / part
            last = index == len(parts) - 1
            try:
                if last and not is_dir:
                    os.close(os.open(current, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
                else:
                    current.mkdir()
            except FileExistsError:
                if current.is_symlink() or (not last and not current.is_dir()):
                    break
            except OSError:
                break


class EngineSupply(Protocol):
    def engine_image(self, client: Any, image: str, env: Mapping[str, str]) -> str:
        """The reference to create a container from: `image` itself, or the id of the image
        brought into the engine for it; raises ImageProblem."""
