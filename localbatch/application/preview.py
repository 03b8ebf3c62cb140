"""`localbatch run --dry-run`: what would run, derived without preparing or starting anything."""

from __future__ import annotations

from collections.abc import Collection

from localbatch.config import Config
from localbatch.engine.capacity import HostCapacity
from localbatch.engine.dry_run import TaskPreview, preview
from localbatch.spec.model import Job

#: Stands for the address instances would reach OSS at: no endpoint is started.
OSS_ENDPOINT_PLACEHOLDER = "<oss endpoint>"


def preview_run(
    job_id: str, job: Job, config: Config, only: Collection[str] = ()
) -> list[TaskPreview]:
    """Every task of the job (or those in `only`) as it would run on this host."""
    tasks = {name: task for name, task in job.tasks.items() if not only or name in only}
    return preview(job_id, tasks, config, HostCapacity.detect(), OSS_ENDPOINT_PLACEHOLDER)
