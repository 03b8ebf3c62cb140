"""`localbatch run --dry-run` and `plan`: what would run and where, derived without preparing
or starting anything, and how many instances of each task can run at once there."""

from __future__ import annotations

from collections.abc import Collection

from localbatch.application.stack import LocalService
from localbatch.config import Config
from localbatch.engine.capacity import Concurrency, HostCapacity, concurrency, size_instance
from localbatch.engine.dry_run import TaskPreview, preview
from localbatch.engine.service import capacity_of
from localbatch.plan.node_choice import choose_node
from localbatch.runtime.base import Runtime
from localbatch.spec.model import Job

#: Stands for the address instances would reach OSS at: no endpoint is started.
OSS_ENDPOINT_PLACEHOLDER = "<oss endpoint>"


def this_host(config: Config, max_parallel: int | None = None) -> HostCapacity:
    """The capacity a run here would have (the config says whether it oversubscribes)."""
    return HostCapacity.detect(max_parallel, oversubscribe=config.oversubscribe)


def runtime_capacity(
    runtime: Runtime | None, config: Config, max_parallel: int | None = None
) -> HostCapacity:
    """What can run at once: the runtime's cluster, else this host."""
    if runtime is None:
        return this_host(config, max_parallel)
    return capacity_of(runtime, max_parallel, config.oversubscribe)


def refusals(job: Job, config: Config, capacity: HostCapacity) -> dict[str, str]:
    """Task name -> why no node of the cluster can run its instances (none on one host)."""
    return {
        name: sizing.refusal
        for name, task in job.tasks.items()
        if (sizing := size_instance(choose_node(task, config).instance_type, capacity)).refusal
    }


def preview_run(
    job_id: str,
    job: Job,
    config: Config,
    capacity: HostCapacity,
    only: Collection[str] = (),
) -> list[TaskPreview]:
    """Every task of the job (or those in `only`) as it would run with `capacity`."""
    tasks = {name: task for name, task in job.tasks.items() if not only or name in only}
    return preview(job_id, tasks, config, capacity, OSS_ENDPOINT_PLACEHOLDER)


def task_concurrency(
    job: Job, config: Config, host: HostCapacity, only: Collection[str] = ()
) -> dict[str, Concurrency]:
    """Per task (all, or those in `only`): how many of its instances can run at once on
    `host` when it runs alone, and why."""
    return {
        name: concurrency(size_instance(choose_node(task, config).instance_type, host), host)
        for name, task in job.tasks.items()
        if not only or name in only
    }


def running_concurrency(
    local: LocalService, job: Job, only: Collection[str] = ()
) -> dict[str, Concurrency]:
    """`task_concurrency` on the capacity the stack's engine schedules by."""
    if local.engine is None:
        raise RuntimeError("this stack was opened without a runtime: it runs no job")
    return task_concurrency(job, local.config, local.engine.capacity, only)
