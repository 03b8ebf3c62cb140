"""`localbatch images`: build the default image, push an image into an OSS-backed registry,
and show what each image id runs and whether each runtime has it.

No public registry is reachable from these machines, so images are built or loaded
locally, or kept in a registry whose storage is an OSS path (as BatchCompute users do);
this is where a user sees which BatchCompute image id maps to which image, where that image
comes from, and whether the Docker and process runtimes have it ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from localbatch.cli.common import Config, config_options, fail
from localbatch.config import DEFAULT_DOCKER_IMAGE

if TYPE_CHECKING:
    from localbatch.images.sources import ImageSources


def _sources(config: Config) -> ImageSources:
    """Where images come from, the Docker engine's images included when one answers."""
    from localbatch.images.sources import ImageSources
    from localbatch.runtime.images import engine_image_store

    return ImageSources(config, engine_factory=engine_image_store)


@click.group("images", short_help="Build, push and list images (Docker and process runtime).")
def images() -> None:
    """Images: build the default one, push one into an OSS-backed registry, list them."""


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
    """Build the default image (Debian bookworm + python) with debootstrap; no registry.

    One debootstrap makes both forms: the Docker engine's image (when an engine answers)
    and the process runtime's root file system (in the image cache). Each form that exists
    already is kept (a second build is a no-op).
    """
    from localbatch.images.store import RootfsStore
    from localbatch.runtime.images import ImageBuildError, answering_engine, build_default_images

    client = answering_engine()
    if client is None:
        click.echo("no Docker engine answers: building the process runtime's form only", err=True)
    try:
        built = build_default_images(
            client,
            RootfsStore(config.image_cache),
            tag,
            mirror=mirror,
            log=lambda line: click.echo(line, err=True),
        )
    except ImageBuildError as exc:
        fail(str(exc))
    if client is not None:
        click.echo(f"{tag}: Docker image {'built' if built.docker else 'already present'}")
    state = "built" if built.rootfs else "already present"
    click.echo(f"{tag}: process runtime root file system {state} in {config.image_cache}")
    if tag not in set(config.images.values()):
        click.echo(f"note: no image id maps to {tag} in the current config", err=True)


@images.command("push", short_help="Push an image into a registry stored at an OSS path.")
@click.argument("image")
@click.argument("oss_path", required=False)
@click.option(
    "--from",
    "from_file",
    metavar="SOURCE",
    help="Read the image from this file instead of the Docker engine "
    "(docker-archive:PATH, oci:PATH[:REF], oci-archive:PATH[:REF]).",
)
@config_options
def push(config: Config, image: str, oss_path: str | None, from_file: str | None) -> None:
    """Push IMAGE into the registry stored at OSS_PATH, through the real registry.

    \b
    localbatch images push worker:3 oss://bucket/dockers/
    localbatch images push worker:3@oss://bucket/dockers/      (the bcs --docker syntax)
    localbatch images push worker:3 oss://bucket/dockers/ --from docker-archive:/x.tar

    A task then runs it as localhost:5000/worker:3 with BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH
    set to the path, on either runtime; the path may be the local root, a bucket alias or
    real OSS (the config's [oss] settings).
    """
    from localbatch.images.push import push_image
    from localbatch.runtime.image_supply import ImageProblem

    try:
        pushed = push_image(_sources(config), image, oss_path, from_file)
    except (ImageProblem, ValueError) as exc:
        fail(str(exc))
    click.echo(pushed.describe())


@images.command("list", short_help="Each image id, its image, its source, ready per runtime.")
@config_options
def list_images(config: Config) -> None:
    """Each BatchCompute image id (and cluster, and [image_sources] name): its image, whether
    the Docker runtime and the process runtime have it ready, and where it comes from."""
    from localbatch.images.status import readiness

    mapping = dict(config.images)
    mapping["(default)"] = config.default_docker_image
    for cluster in config.clusters.values():
        if cluster.docker_image:
            mapping[f"(cluster {cluster.cluster_id})"] = cluster.docker_image
    for name in config.image_sources:
        if name not in mapping.values():
            mapping[f"({name})"] = name
    sources = _sources(config)
    if sources.engine() is None:
        click.echo("no Docker engine answers: the docker column says 'no engine'", err=True)
    rows = [("IMAGE ID", "IMAGE", "DOCKER", "PROCESS", "SOURCE")]
    for image_id, image in sorted(mapping.items()):
        ready = readiness(sources, image_id, image)
        rows.append((image_id, image, ready.docker, ready.process, ready.source))
    widths = [max(len(row[n]) for row in rows) for n in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[4]]))


def register(group: click.Group) -> None:
    group.add_command(images)
