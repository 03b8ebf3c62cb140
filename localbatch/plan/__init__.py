"""The DAG of a job and the order its tasks can run in, without running anything.

`DAG.Dependencies` maps an upstream task to the tasks that run after it. Levels are the
topological generations of that graph: every task of a level can start once all tasks of
the levels before it are done; names inside a level are sorted, so plans are stable.
networkx is imported inside the functions: `localbatch validate` never pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from localbatch.config import DEFAULT_INSTANCE_TYPE, Config
from localbatch.plan.node_choice import choose_node
from localbatch.spec.instance_types import lookup, unknown_type_notice
from localbatch.spec.model import Job

if TYPE_CHECKING:
    import networkx as nx


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
    #: The local Docker image the instances run in (node_choice's answer).
    docker_image: str
    cluster: str
    timeout: int
    max_retry_count: int
    #: Fallbacks taken (unmapped image id, undefined cluster), as `run` would report them.
    notices: tuple[str, ...]


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
    return graph_levels(build_dag(job))


def graph_levels(graph: nx.DiGraph) -> list[list[str]]:
    """`levels` of a DAG already built, for callers that also read its edges."""
    import networkx as nx

    return [sorted(generation) for generation in nx.topological_generations(graph)]


def instances(job: Job) -> list[tuple[str, int]]:
    """(task name, instance id) of every instance, in execution order."""
    return [
        (name, instance_id)
        for level in levels(job)
        for name in level
        for instance_id in range(job.tasks[name].instance_count)
    ]


def plan_tasks(job: Job, config: Config) -> list[TaskPlan]:
    """Every task with its level and what it asks for, in execution order.

    The config says what image ids and `ClusterId`s stand for locally (`[images]`,
    `[clusters.<id>]`), by the same rules the engine runs with (node_choice).
    """
    graph = build_dag(job)
    plans = []
    for depth, level in enumerate(graph_levels(graph)):
        for name in level:
            task = job.tasks[name]
            node = choose_node(task, config)
            known = lookup(node.instance_type)
            notices = node.notices
            if known is None:  # worded as the engine words it (environment.py)
                notices += (f"task {name}: {_unknown_type(node.instance_type)}",)
            plans.append(
                TaskPlan(
                    name=name,
                    level=depth,
                    upstream=tuple(sorted(graph.predecessors(name))),
                    instance_count=task.instance_count,
                    instance_type=node.instance_type,
                    cpu_cores=known.cpu_cores if known else None,
                    memory_gib=known.memory_gib if known else None,
                    image=node.image_id,
                    image_source=node.image_source,
                    docker_image=node.docker_image,
                    cluster=task.cluster_id or "AutoCluster",
                    timeout=task.timeout,
                    max_retry_count=task.max_retry_count,
                    notices=notices,
                )
            )
    return plans


def _unknown_type(name: str) -> str:
    fallback = lookup(DEFAULT_INSTANCE_TYPE)
    assert fallback is not None
    return unknown_type_notice(name, fallback)
