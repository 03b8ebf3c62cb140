"""Images brought into the Docker engine for the Docker runtime: pulled from the loopback
registry serving an OSS path, or loaded from an image file; told as it begins and ends
(`ImageSources.telling`), as the sandbox's unpacking is.

The registry runs on a port of its own, not on 5000 (which may be taken, by another
localbatch or by the user's own registry), so the engine pulls
`127.0.0.1:PORT/<name>@<digest>` (by the digest the tree named, so exactly that image),
tags the result `localhost:5000/<name>:<tag>` (the name the job gives, as on the service's
VM) and drops the temporary reference. The image id is its config digest, so "is this image
here" is one inspect by that digest: a second run pulls nothing. Containers are created
from the id, so a tag moved meanwhile cannot change what an attempt runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import docker.errors

from localbatch.config import ImageFile
from localbatch.images.archives import image_config
from localbatch.images.reference import RegistryImage, registry_image
from localbatch.images.sources import ImageSources
from localbatch.images.tools import skopeo_copy
from localbatch.plan.node_choice import REGISTRY_HOST
from localbatch.runtime.image_supply import (
    FOR_DOCKER,
    ImagePreparation,
    ImageProblem,
    PreparationListener,
)

ENGINE_ERRORS = (docker.errors.DockerException, OSError)


def image_info(client: Any, reference: str) -> dict[str, Any] | None:
    """The engine's inspect answer for `reference` (a name or an id), or None."""
    try:
        return dict(client.api.inspect_image(reference))
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.status_code == 404:
            return None
        raise


def registry_name(repository: str, reference: str) -> str:
    """The name a pulled registry image gets: `localhost:5000/<repo>:<tag>` (a digest
    reference becomes the tag `sha256-<first 12 hex digits>`)."""
    tag = reference if not reference.startswith("sha256:") else f"sha256-{reference[7:19]}"
    return f"{REGISTRY_HOST}/{repository}:{tag}"


def drop_reference(client: Any, reference: str) -> None:
    """Remove one name of an image that has another (never the image itself)."""
    with contextlib.suppress(docker.errors.NotFound):
        client.api.remove_image(reference, noprune=True)


def _streamed(events: Any, what: str, doing: str) -> None:
    """Read a pull's or push's progress to its end; ImageProblem with the engine's words."""
    try:
        for event in events:
            error = event.get("error") if isinstance(event, dict) else None
            if error:
                raise ImageProblem(f"{what}: the Docker engine could not {doing} it: {error}")
    except ENGINE_ERRORS as exc:
        raise ImageProblem(f"{what}: the Docker engine could not {doing} it: {exc}") from exc


def pull(client: Any, reference: str, what: str) -> None:
    _streamed(client.api.pull(reference, stream=True, decode=True), what, "pull")


def push(client: Any, local_image: str, target: str, what: str) -> None:
    """Push the engine's `local_image` as `target` (`127.0.0.1:PORT/<repo>:<tag>`)."""
    if image_info(client, local_image) is None:
        raise ImageProblem(
            f"{what}: the Docker engine has no image {local_image} (`docker images` lists "
            "what it has)"
        )
    repository, _, tag = target.rpartition(":")
    client.api.tag(local_image, repository, tag)
    try:
        _streamed(client.api.push(repository, tag=tag, stream=True, decode=True), what, "push")
    finally:
        drop_reference(client, target)


class EngineImages:
    """The Docker runtime's image supply (EngineSupply): the OSS-backed registry's images
    and image files brought into the engine, each once; other names used as they are."""

    def __init__(self, sources: ImageSources) -> None:
        self.sources = sources

    def tell_preparation(self, listener: PreparationListener) -> None:
        """Tell `listener` as an image is pulled or loaded into the engine on first use
        (TellsPreparation), as the sandbox's unpacking is told."""
        self.sources.tell_preparation(listener)

    def engine_image(self, client: Any, image: str, env: Mapping[str, str]) -> str:
        """The reference to create a container from: registry and image-file images are
        brought into the engine first and named by their id."""
        from_registry = registry_image(image, env)
        if from_registry is not None:
            return self._from_registry(client, from_registry)
        if image in self.sources.files:
            return self._from_file(client, image, self.sources.files[image])
        return image

    def brought_problem(
        self, image: str, env: Mapping[str, str], otherwise: Callable[[str], str | None]
    ) -> str | None:
        """Why `image` could not be had, found without bringing anything
        (ChecksBroughtImages): registry and file images as their source says, any other
        name by `otherwise` (the engine has it, or it may be pulled)."""
        return self.sources.brought_problem(image, env, otherwise)

    def _from_registry(self, client: Any, image: RegistryImage) -> str:
        storage, resolved = self.sources.resolve(image)
        what = self.sources.what(image)
        name = registry_name(image.repository, image.reference)
        told = _brought(image.image, self.sources.registry_source(image), "pulling")
        with self.sources.lock(f"engine:{resolved.key}"):
            if not _tagged(client, resolved.config_digest, name):
                with (
                    self.sources.telling(told),
                    self.sources.served(storage, resolved, image) as pulled,
                ):
                    pull(client, pulled, what)
                    try:
                        _require(client, resolved.config_digest, name, what)
                    finally:
                        drop_reference(client, pulled)
        return resolved.config_digest

    def _from_file(self, client: Any, image: str, source: ImageFile) -> str:
        config = image_config(source)
        what = f"image {image} from {source}"
        name = image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest"
        with self.sources.lock(f"engine:{config.key}"):
            if not _tagged(client, config.digest, name):
                told = _brought(image, self.sources.file_source(source), "loading")
                with self.sources.telling(told):
                    skopeo_copy(str(source), f"docker-daemon:{name}", f"{what}: loading it")
                    _require(client, config.digest, name, what)
        return config.digest


def _brought(image: str, source: str, how: str) -> ImagePreparation:
    """An image brought into the engine on first use, as it is told."""
    return ImagePreparation(image, source, target=FOR_DOCKER, how=how)


def _tagged(client: Any, image_id: str, name: str) -> bool:
    """Whether the engine has `image_id` (then named `name` too)."""
    try:
        info = image_info(client, image_id)
        if info is not None and name not in (info.get("RepoTags") or []):
            repository, _, tag = name.rpartition(":")
            client.api.tag(image_id, repository, tag)
    except ENGINE_ERRORS as exc:
        raise ImageProblem(f"the Docker engine did not answer about {name}: {exc}") from exc
    return info is not None


def _require(client: Any, image_id: str, name: str, what: str) -> None:
    if not _tagged(client, image_id, name):
        raise ImageProblem(f"{what}: the engine took it, but has no image {image_id} afterwards")


class DockerImageStore:
    """The engine's images as an image supplier asks about them (EngineImageStore)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def image_id(self, name: str) -> str | None:
        try:
            info = image_info(self.client, name)
        except ENGINE_ERRORS as exc:
            raise ImageProblem(f"the Docker engine did not answer about {name}: {exc}") from exc
        return str(info["Id"]) if info is not None else None

    def push(self, local_image: str, target: str, what: str) -> None:
        push(self.client, local_image, target, what)


def docker_image_store() -> DockerImageStore:
    """The engine's images, on an engine that answers (raises when none does)."""
    client = docker.from_env(timeout=10)
    client.ping()
    return DockerImageStore(client)
