"""Images in and out of the Docker engine: pulled from the loopback registry, loaded from an
image file, pushed into a registry directory.

The registry runs on a free port, not on 5000 (which may be taken, by another localbatch
or by the user's own registry), so the engine pulls `127.0.0.1:PORT/<name>@<digest>` (by
the digest the tree named, so exactly that image), tags the result
`localhost:5000/<name>:<tag>` (the name the job gives, as on the service's VM) and drops the
temporary reference. The image id is its config digest, so "is this image here" is one
inspect by that digest: a second run pulls nothing.
"""

from __future__ import annotations

import contextlib
from typing import Any

import docker.errors

from localbatch.images.reference import REGISTRY_HOST, parse_image
from localbatch.runtime.image_supply import ImageProblem

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


def ensure_tag(client: Any, image_id: str, info: dict[str, Any], name: str) -> None:
    """Give the image `image_id` the name `name` (repository:tag) unless it has it."""
    if name in (info.get("RepoTags") or []):
        return
    repository, _, tag = name.rpartition(":")
    client.api.tag(image_id, repository, tag)


def registry_name(repository: str, reference: str) -> str:
    """The name a pulled registry image gets: `localhost:5000/<repo>:<tag>` (a digest
    reference becomes the tag `sha256-<first 12 hex digits>`)."""
    tag = reference if not reference.startswith("sha256:") else f"sha256-{reference[7:19]}"
    return f"{REGISTRY_HOST}/{repository}:{tag}"


def pull(client: Any, reference: str, what: str) -> None:
    """Pull `reference` through the engine; ImageProblem with the engine's words."""
    try:
        for event in client.api.pull(reference, stream=True, decode=True):
            error = event.get("error") if isinstance(event, dict) else None
            if error:
                raise ImageProblem(f"{what}: the Docker engine could not pull it: {error}")
    except ENGINE_ERRORS as exc:
        raise ImageProblem(f"{what}: the Docker engine could not pull it: {exc}") from exc


def drop_reference(client: Any, reference: str) -> None:
    """Remove one name of an image that has another (never the image itself)."""
    with contextlib.suppress(docker.errors.NotFound):
        client.api.remove_image(reference, noprune=True)


def push(client: Any, local_image: str, target: str, what: str) -> None:
    """Push the engine's `local_image` as `target` (`127.0.0.1:PORT/<repo>:<tag>`)."""
    if image_info(client, local_image) is None:
        raise ImageProblem(
            f"{what}: the Docker engine has no image {local_image} (`docker images` lists "
            "what it has)"
        )
    name = parse_image(target)
    client.api.tag(local_image, name.repository, name.tag)
    try:
        for event in client.api.push(name.repository, tag=name.tag, stream=True, decode=True):
            error = event.get("error") if isinstance(event, dict) else None
            if error:
                raise ImageProblem(f"{what}: the Docker engine could not push it: {error}")
    except ENGINE_ERRORS as exc:
        raise ImageProblem(f"{what}: the Docker engine could not push it: {exc}") from exc
    finally:
        drop_reference(client, target)
