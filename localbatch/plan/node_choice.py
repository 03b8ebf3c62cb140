"""Which image and instance type a task's instances get: one answer for plan and engine.

`localbatch plan`, `run --dry-run` and the engine must agree on what a task runs on, so
the rules live here once (docs/writing-jobs.md, "Image and instance type"):

Image: `Command.Docker.Image`, else the `BATCH_COMPUTE_DOCKER_IMAGE` entry of `EnvVars`
(both are Docker images, used as they are; `localhost:5000/...` with
`BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH` comes from that OSS path), else the node image: a
defined `ClusterId`'s `[clusters.<id>]` (`docker_image`, or its `image_id` through
`[images]`), else the AutoCluster's `ImageId` (or `ECSImageId`) through `[images]`.
Instance type: the cluster
definition's, else `AutoCluster.InstanceType`. An image id that is not mapped, or a
`ClusterId` that is not defined, falls back to the default image and instance type, with a
notice (a notice about the image only when the node image is the one used).
"""

from __future__ import annotations

from dataclasses import dataclass

from localbatch.config import DEFAULT_INSTANCE_TYPE, Config
from localbatch.spec.model import Task

#: Where the BatchCompute environment variable asks for Docker mode (semantics.md).
DOCKER_IMAGE_VAR = "BATCH_COMPUTE_DOCKER_IMAGE"
#: The registry the service's VM serves from OSS, as images name it, and where its storage
#: lives (semantics.md, "Docker mode"; the official CLI's `--docker name@oss://...`).
REGISTRY_HOST = "localhost:5000"
REGISTRY_OSS_VAR = "BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH"


@dataclass(frozen=True)
class NodeChoice:
    """What one task runs on here, and where each part of the answer came from."""

    #: The image the job (or the cluster definition) names: a Docker image or an image id.
    image_id: str
    #: Which field named it, e.g. "Command.Docker.Image", "AutoCluster.ImageId".
    image_source: str
    #: The local Docker image the instances run in.
    docker_image: str
    instance_type: str
    #: Fallbacks the user must hear about (unmapped image id, undefined cluster).
    notices: tuple[str, ...]


@dataclass(frozen=True)
class _Image:
    image_id: str
    source: str
    docker_image: str
    notice: str = ""


def _named_image(task: Task) -> _Image | None:
    """A Docker image the command names itself: used as it is, no mapping (an image of the
    OSS-backed registry says which OSS path it comes from)."""
    command = task.parameters.command
    if command.docker is not None and command.docker.image:
        image, source = command.docker.image, "Command.Docker.Image"
    elif command.env_vars.get(DOCKER_IMAGE_VAR):
        image, source = command.env_vars[DOCKER_IMAGE_VAR], f"EnvVars.{DOCKER_IMAGE_VAR}"
    else:
        return None
    registry_path = command.env_vars.get(REGISTRY_OSS_VAR)
    if image.startswith(REGISTRY_HOST + "/") and registry_path:
        source += f", from the registry at {registry_path}"
    return _Image(image, source, image)


def _mapped(image_id: str, source: str, task: Task, config: Config) -> _Image:
    """A BatchCompute image id through `[images]`, else the default image with a notice."""
    if image_id in config.images:
        return _Image(image_id, source, config.images[image_id])
    default = config.default_docker_image
    return _Image(
        image_id,
        source,
        default,
        f"task {task.name}: image id {image_id} is not mapped in the config "
        f"([images] {image_id} = ...); using {default}",
    )


def _node_image(task: Task, config: Config) -> _Image | None:
    """The image of the cluster node the task runs on; None when there is no such cluster."""
    auto = task.auto_cluster
    if task.cluster_id in config.clusters:
        cluster = config.clusters[task.cluster_id]
        source = f"[clusters.{task.cluster_id}]"
        if cluster.docker_image:
            return _Image(cluster.docker_image, source, cluster.docker_image)
        return _mapped(cluster.image_id, source, task, config)
    if task.cluster_id or auto is None:
        return None
    if auto.image_id or not auto.ecs_image_id:
        return _mapped(auto.image_id, "AutoCluster.ImageId", task, config)
    return _mapped(auto.ecs_image_id, "AutoCluster.ECSImageId", task, config)


def _instance_type(task: Task, config: Config) -> str | None:
    """The cluster's or AutoCluster's type; None when there is no such cluster."""
    if task.cluster_id in config.clusters:
        return config.clusters[task.cluster_id].instance_type
    if task.cluster_id or task.auto_cluster is None:
        return None
    return task.auto_cluster.instance_type or DEFAULT_INSTANCE_TYPE


def _no_cluster(task: Task) -> tuple[str, str]:
    """(image source, reason) for a task whose cluster is not known here."""
    if not task.cluster_id:
        return "none", "has no ClusterId and no AutoCluster"
    return (
        f"ClusterId {task.cluster_id}, not defined in the config",
        f"cluster {task.cluster_id} is not defined in the config ([clusters.{task.cluster_id}])",
    )


def choose_node(task: Task, config: Config) -> NodeChoice:
    """The image (as named and as run) and instance type of `task`'s instances."""
    image = _named_image(task) or _node_image(task, config)
    instance_type = _instance_type(task, config)
    notices = []
    defaulted = []
    source, reason = _no_cluster(task)
    if image is None:
        image = _Image("", source, config.default_docker_image)
        defaulted.append(f"image {image.docker_image}")
    if instance_type is None:
        instance_type = DEFAULT_INSTANCE_TYPE
        defaulted.append(f"instance type {instance_type}")
    if defaulted:
        notices.append(f"task {task.name}: {reason}; using {' and '.join(defaulted)}")
    if image.notice:
        notices.append(image.notice)
    return NodeChoice(
        image.image_id, image.source, image.docker_image, instance_type, tuple(notices)
    )


def describe_image(docker_image: str, image_id: str, source: str) -> str:
    """One line for plan and --dry-run: the local image, and what named it.

    "localbatch/bookworm-python:2 (AutoCluster.ImageId img-ubuntu)",
    "python:3 (Command.Docker.Image)".
    """
    named = f" {image_id}" if image_id and image_id != docker_image else ""
    return f"{docker_image} ({source}{named})"
