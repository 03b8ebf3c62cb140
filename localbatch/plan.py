"""The DAG of a job and the order its tasks can run in, without running anything.

`DAG.Dependencies` maps an upstream task to the tasks that run after it. Levels are the
topological generations of that graph: every task of a level can start once all tasks of
the levels before it are done; names inside a level are sorted, so plans are stable.
networkx is imported inside the functions: `localbatch validate` never pays for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from localbatch.config import ClusterDefinition
from localbatch.instance_types import lookup
from localbatch.spec.model import Job, Task

if TYPE_CHECKING:
    import networkx as nx

#: Where the BatchCompute environment variable asks for Docker mode (semantics.md).
DOCKER_IMAGE_VAR = "BATCH_COMPUTE_DOCKER_IMAGE"


@dataclass(frozen=True)
class TaskPlan:
    """What the job asks for one task, as the plan view shows it."""

    name: str
    level: int
    upstream: tuple[str, ...]
    instance_count: int
    instance_type: str
    cpu_cores: int | None
    memory_gib: int | None
    #: The image the job names: a Docker image, or a BatchCompute image id.
    image: str
    #: Which field named it (Command.Docker.Image, EnvVars, AutoCluster.ImageId, ClusterId).
    image_source: str
    cluster: str
    timeout: int
    max_retry_count: int


def build_dag(job: Job) -> nx.DiGraph:
    """Tasks as nodes (attribute `task`), an edge upstream -> downstream per dependency."""
    import networkx as nx

    graph = nx.DiGraph()
    for name, task in job.tasks.items():
        graph.add_node(name, task=task)
    for upstream, downstream in job.dependencies.items():
        graph.add_edges_from((upstream, down) for down in downstream)
    return graph


def levels(job: Job) -> list[list[str]]:
    """Task names in execution order, one list per level (raises on a cyclic job)."""
    import networkx as nx

    return [sorted(generation) for generation in nx.topological_generations(build_dag(job))]


def instances(job: Job) -> list[tuple[str, int]]:
    """(task name, instance id) of every instance, in execution order."""
    return [
        (name, instance_id)
        for level in levels(job)
        for name in level
        for instance_id in range(job.tasks[name].instance_count)
    ]


def _image(task: Task, cluster: ClusterDefinition | None) -> tuple[str, str]:
    command = task.parameters.command
    if command.docker is not None and command.docker.image:
        return command.docker.image, "Command.Docker.Image"
    if command.env_vars.get(DOCKER_IMAGE_VAR):
        return command.env_vars[DOCKER_IMAGE_VAR], f"EnvVars.{DOCKER_IMAGE_VAR}"
    if task.cluster_id:
        if cluster is None:
            return "", f"ClusterId {task.cluster_id}, not defined in the config"
        return cluster.docker_image or cluster.image_id, f"[clusters.{task.cluster_id}]"
    auto = task.auto_cluster
    if auto is not None and auto.image_id:
        return auto.image_id, "AutoCluster.ImageId"
    if auto is not None and auto.ecs_image_id:
        return auto.ecs_image_id, "AutoCluster.ECSImageId"
    return "", "none"


def _instance_type(task: Task, cluster: ClusterDefinition | None) -> str:
    if task.cluster_id:
        return cluster.instance_type if cluster else ""
    return task.auto_cluster.instance_type if task.auto_cluster else ""


def plan_tasks(job: Job, clusters: Mapping[str, ClusterDefinition] | None = None) -> list[TaskPlan]:
    """Every task with its level and what it asks for, in execution order.

    `clusters` (the config's `[clusters.<id>]`) says what a `ClusterId` stands for locally.
    """
    graph = build_dag(job)
    plans = []
    for depth, level in enumerate(levels(job)):
        for name in level:
            task = job.tasks[name]
            cluster = (clusters or {}).get(task.cluster_id)
            instance_type = _instance_type(task, cluster)
            known = lookup(instance_type)
            image, source = _image(task, cluster)
            plans.append(
                TaskPlan(
                    name=name,
                    level=depth,
                    upstream=tuple(sorted(graph.predecessors(name))),
                    instance_count=task.instance_count,
                    instance_type=instance_type,
                    cpu_cores=known.cpu_cores if known else None,
                    memory_gib=known.memory_gib if known else None,
                    image=image,
                    image_source=source,
                    cluster=task.cluster_id or "AutoCluster",
                    timeout=task.timeout,
                    max_retry_count=task.max_retry_count,
                )
            )
    return plans
