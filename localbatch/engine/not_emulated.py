"""Fields a job may carry that cannot mean anything on one machine, reported once per run.

They are accepted (the service accepts them) and never dropped silently: each one present
in the job becomes one notice naming the tasks that carry it and what happens instead.
"""

from __future__ import annotations

from collections.abc import Callable

from localbatch.config import Config
from localbatch.spec.model import Job, Mounts, Task


def _mount_groups(task: Task) -> tuple[Mounts, ...]:
    """The task's own Mounts and its AutoCluster's: each carries its own Lock and NAS fields."""
    groups = (task.mounts, task.auto_cluster.configs.mounts if task.auto_cluster else None)
    return tuple(m for m in groups if m is not None)


#: (field, test on a task, what localbatch does instead).
_TASK_FIELDS: tuple[tuple[str, Callable[[Task], bool], str], ...] = (
    (
        "AutoCluster.Configs.Networks",
        lambda t: bool(t.auto_cluster and t.auto_cluster.configs.networks),
        "instances use the runtime's own network",
    ),
    (
        "AutoCluster.ResourceType / SpotStrategy / SpotPriceLimit",
        lambda t: bool(
            t.auto_cluster
            and (
                t.auto_cluster.resource_type not in ("", "OnDemand")
                or t.auto_cluster.spot_strategy
                or t.auto_cluster.spot_price_limit
            )
        ),
        "no pricing or preemption: instances run as on-demand",
    ),
    (
        "AutoCluster.UserData",
        lambda t: bool(t.auto_cluster and t.auto_cluster.user_data),
        "there is no VM metadata service to read it from",
    ),
    (
        "AutoCluster.DependencyIsvService",
        lambda t: bool(t.auto_cluster and t.auto_cluster.dependency_isv_service),
        "no ISV services exist locally",
    ),
    (
        "AutoCluster.Configs.Disks.SystemDisk",
        lambda t: bool(t.auto_cluster and t.auto_cluster.configs.system_disk),
        "instances use the host's disk; size and type are not enforced",
    ),
    (
        "AutoCluster.Configs.Disks.DataDisk Type/Size",
        lambda t: bool(
            t.auto_cluster
            and t.auto_cluster.configs.data_disk
            and (t.auto_cluster.configs.data_disk.size or t.auto_cluster.configs.data_disk.type)
        ),
        "the data disk is a private directory at its MountPoint; size and type are not enforced",
    ),
    (
        "InputMappingConfig.Lock",
        lambda t: t.parameters.input_mapping_config.lock,
        "no file locking is added to mapped inputs",
    ),
    (
        "Mounts.Lock / Mounts.CacheSupport",
        lambda t: any(m.lock or m.cache_support for m in _mount_groups(t)),
        "mounts are plain local directories, without locking or a cache layer",
    ),
    (
        "Mounts.NAS.AccessGroup",
        lambda t: any(m.nas_access_groups for m in _mount_groups(t)),
        "NAS access groups are not checked; nas:// paths map to local directories",
    ),
)


def not_emulated(job: Job, config: Config) -> list[str]:
    """One notice per field present in the job that has no local meaning."""
    notices = []
    for field_name, present, instead in _TASK_FIELDS:
        tasks = [name for name, task in job.tasks.items() if present(task)]
        if tasks:
            notices.append(f"not emulated: {field_name} (tasks {', '.join(tasks)}): {instead}")
    if job.topic and (job.topic.endpoint or job.topic.events) and not config.notification_endpoint:
        notices.append(
            "not emulated: Notification.Topic: no notification endpoint is configured "
            "([notifications] endpoint or LOCALBATCH_NOTIFICATION_ENDPOINT), so no message "
            "is sent"
        )
    return notices
