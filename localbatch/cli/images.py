"""`localbatch images`: build the default local image, and show what each image id runs.

No registry is reachable from these machines, so images are built or loaded locally; this
is where a user sees which BatchCompute image id maps to which local image, and whether it
is there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from localbatch.cli.common import Config, config_options, fail
from localbatch.config import DEFAULT_DOCKER_IMAGE

if TYPE_CHECKING:
    from localbatch.runtime.images import EngineClient


def _client() -> EngineClient:
    """A Docker client on an engine that answers, or a clear exit."""
    from localbatch.runtime.base import RuntimeUnavailable
    from localbatch.runtime.images import engine_client

    try:
        return engine_client()
    except RuntimeUnavailable as exc:
        fail(str(exc))


@click.group("images", short_help="Build the default image; list what each image id runs.")
def images() -> None:
    """Local Docker images: build the default one, list the image id mapping."""


@images.command("build", short_help="Build the default image with debootstrap (no registry).")
@click.option(
    "--tag",
    default=DEFAULT_DOCKER_IMAGE,
    show_default=True,
    help="Name of the image to build.",
)
@click.option("--mirror", default=None, help="Debian mirror (default: the one apt uses here).")
@config_options
def build(config: Config, tag: str, mirror: str | None) -> None:
    """Build the default image (Debian bookworm + python3) with debootstrap; no registry.

    Does nothing when the image already exists (Docker's image store is the cache).
    """
    from localbatch.runtime.images import ImageBuildError, build_default_image

    client = _client()
    try:
        built = build_default_image(
            client, tag, mirror=mirror, log=lambda line: click.echo(line, err=True)
        )
    except ImageBuildError as exc:
        fail(str(exc))
    click.echo(f"{tag}: {'built' if built else 'already present'}")
    if tag not in set(config.images.values()):
        click.echo(f"note: no image id maps to {tag} in the current config", err=True)


@images.command("list", short_help="Each image id, its local image, present or missing.")
@config_options
def list_images(config: Config) -> None:
    """Each BatchCompute image id (and cluster), its local image, and whether it exists."""
    from localbatch.runtime.images import image_statuses

    mapping = dict(config.images)
    mapping["(default)"] = config.default_docker_image
    for cluster in config.clusters.values():
        if cluster.docker_image:
            mapping[f"(cluster {cluster.cluster_id})"] = cluster.docker_image
    statuses = image_statuses(_client(), mapping)
    width = max(len(s.image_id) for s in statuses)
    for status in statuses:
        state = "present" if status.present else "missing"
        click.echo(f"{status.image_id:<{width}}  {status.docker_image}  {state}")


def register(group: click.Group) -> None:
    group.add_command(images)
