"""`localbatch run --dry-run` and `plan`: what would run and where, derived without preparing
or starting anything."""

from __future__ import annotations

from collections.abc import Collection

from localbatch.config import Config
from localbatch.engine.capacity import HostCapacity, size_instance
from localbatch.engine.dry_run import TaskPreview, preview
from localbatch.engine.service import capacity_of
from localbatch.plan.node_choice import choose_node
from localbatch.runtime.base import Runtime
from localbatch.spec.model import Job

#: Stands for the address instances would reach OSS at: no endpoint is started.
OSS_ENDPOINT_PLACEHOLDER = "<oss endpoint>"


def runtime_capacity(runtime: Runtime | None, max_parallel: int | None = None) -> HostCapacity:
    """What can run at once: the runtime's cluster, else this host."""
    return capacity_of(runtime, max_parallel) if runtime else HostCapacity.detect(max_parallel)


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
    only: Collection[str] = (),
    capacity: HostCapacity | None = None,
) -> list[TaskPreview]:
    """Every task of the job (or those in `only`) as it would run (on this host by default)."""
    tasks = {name: task for name, task in job.tasks.items() if not only or name in only}
    host = capacity or HostCapacity.detect()
    return preview(job_id, tasks, config, host, OSS_ENDPOINT_PLACEHOLDER)
