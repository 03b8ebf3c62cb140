"""--dry-run's description of a task: every path the program sees, secrets masked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localbatch.config import Config
from localbatch.engine.capacity import HostCapacity
from localbatch.engine.dry_run import masked, preview, task_paths
from localbatch.spec.model import Job


def test_paths_list_package_mappings_mounts_and_data_disk(
    job_factory: Callable[..., Job], task_factory: Callable[..., dict[str, Any]]
) -> None:
    body = task_factory(
        InputMapping={"oss://bkt/in/": "/home/in/"},
        OutputMapping={"/home/out/": "oss://bkt/out/"},
        LogMapping={"/var/log/app.log": "oss://bkt/logs/"},
        Mounts={"Entries": [{"Source": "nas://fs-1/data/", "Destination": "/mnt/nas/"}]},
        AutoCluster={
            "ImageId": "img-ubuntu",
            "Configs": {"Disks": {"DataDisk": {"MountPoint": "/data", "Size": 40}}},
        },
    )
    body["Parameters"]["Command"]["PackagePath"] = "oss://bkt/pkg.tar.gz"
    paths = task_paths(job_factory({"t": body}).tasks["t"])
    assert paths == (
        "/batchcompute/workdir <- oss://bkt/pkg.tar.gz unpacked (writable)",
        "/home/in/ <- oss://bkt/in/ (read-only)",
        "/home/out/ -> oss://bkt/out/ (empty, uploaded after every attempt)",
        "/var/log/app.log -> oss://bkt/logs/ (log, pushed while running)",
        "/mnt/nas/ <- nas://fs-1/data/ (read-only)",
        "/data <- data disk (empty, private, writable)",
    )


def test_secret_looking_values_are_masked() -> None:
    env = {"DB_PASSWORD": "p", "OSS_ACCESS_KEY_SECRET": "s", "API_TOKEN": "t", "PLAIN": "v"}
    assert masked(env) == {
        "DB_PASSWORD": "******",
        "OSS_ACCESS_KEY_SECRET": "******",
        "API_TOKEN": "******",
        "PLAIN": "v",
    }


def test_one_environment_per_instance(
    job_factory: Callable[..., Job], task_factory: Callable[..., dict[str, Any]], config: Config
) -> None:
    job = job_factory({"t": task_factory(InstanceCount=3)})
    (item,) = preview("job-1", dict(job.tasks), config, HostCapacity.detect(), "h:1")
    ids = [env["BATCH_COMPUTE_DAG_INSTANCE_ID"] for env in item.instance_envs]
    assert ids == ["0", "1", "2"]
    assert item.instance_envs[0]["BATCH_COMPUTE_OSS_HOST"] == "h:1"
