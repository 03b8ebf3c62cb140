"""Mounts entries: oss:// from the OSS root, nas:// from configured directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from localbatch.config import Config
from localbatch.storage.errors import StorageError
from localbatch.storage.needs import Access, Need, NeedKind
from tests.unit.storage.storage_helpers import job_storage, make_config, mapped, task_body


def mounts(*entries: dict[str, object], **extra: object) -> dict[str, object]:
    return {"Entries": list(entries), **extra}


def test_oss_mount_read_only_unless_write_support(config: Config) -> None:
    task = task_body(
        Mounts=mounts(
            {"Source": "oss://bkt/ro/", "Destination": "/mnt/ro"},
            {"Source": "oss://bkt/rw/", "Destination": "/mnt/rw/", "WriteSupport": True},
        )
    )
    storage = job_storage(config, {"t": task})
    prepared = storage.prepare("t", 0, 0)
    bucket = config.oss.root / "bkt"
    assert mapped(prepared) == (
        Need(NeedKind.MOUNT, bucket / "ro", "/mnt/ro", Access.READ_ONLY, root=bucket),
        Need(NeedKind.MOUNT, bucket / "rw", "/mnt/rw", Access.READ_WRITE, root=bucket),
    )
    storage.finish(prepared)


def test_auto_cluster_mounts_are_bound_too(config: Config) -> None:
    task = task_body(
        AutoCluster={"Configs": {"Mounts": mounts({"Source": "oss://bkt/c/", "Destination": "/c"})}}
    )
    prepared = job_storage(config, {"t": task}).prepare("t", 0, 0)
    assert mapped(prepared) == (
        Need(
            NeedKind.MOUNT,
            config.oss.root / "bkt/c",
            "/c",
            Access.READ_ONLY,
            config.oss.root / "bkt",
        ),
    )


def test_nas_default_directory_and_configured_one(tmp_path: Path) -> None:
    shared = tmp_path / "shared-nas"
    config = make_config(tmp_path, f'[nas]\n"fs-one" = "{shared}"\n')
    task = task_body(
        Mounts=mounts(
            {"Source": "nas://fs-one.cn-x.nas.aliyuncs.com:/data/", "Destination": "/n1"},
            {
                "Source": "nas://fs-two.cn-x.nas.aliyuncs.com:/",
                "Destination": "/n2",
                "WriteSupport": True,
            },
        )
    )
    prepared = job_storage(config, {"t": task}).prepare("t", 0, 0)
    two = config.state_dir / "nas/fs-two"
    assert mapped(prepared) == (
        Need(NeedKind.MOUNT, shared / "data", "/n1", Access.READ_ONLY, root=shared),
        Need(NeedKind.MOUNT, two, "/n2", Access.READ_WRITE, root=two),
    )
    assert (shared / "data").is_dir()


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("nas://fs.cn.nas.aliyuncs.com:/../../etc/", "InvalidOssPath"),
        ("oss://bkt/../x/", "InvalidOssPath"),
        ("http://example/x", "MountError"),
    ],
)
def test_bad_sources_are_refused(config: Config, source: str, code: str) -> None:
    task = task_body(Mounts=mounts({"Source": source, "Destination": "/m"}))
    with pytest.raises(StorageError) as caught:
        job_storage(config, {"t": task}).prepare("t", 0, 0)
    assert caught.value.code == code


def test_relative_destination_is_refused(config: Config) -> None:
    task = task_body(Mounts=mounts({"Source": "oss://bkt/x/", "Destination": "rel/dir"}))
    with pytest.raises(StorageError, match="absolute"):
        job_storage(config, {"t": task}).prepare("t", 0, 0)


def test_write_support_on_a_non_local_bucket_is_refused(memory_config: Config) -> None:
    task = task_body(
        Mounts=mounts({"Source": "oss://mem/x/", "Destination": "/m", "WriteSupport": True})
    )
    with pytest.raises(StorageError) as caught:
        job_storage(memory_config, {"t": task}).prepare("t", 0, 0)
    assert caught.value.code == "MountError" and "WriteSupport" in caught.value.message


def test_read_only_mount_of_a_memory_bucket_is_downloaded(memory_config: Config) -> None:
    import fsspec

    base = memory_config.oss.bucket_aliases["mem"].removeprefix("memory://")
    fsspec.filesystem("memory").pipe(f"/{base}/ref/a.txt", b"A")
    task = task_body(Mounts=mounts({"Source": "oss://mem/ref/", "Destination": "/ref"}))
    prepared = job_storage(memory_config, {"t": task}).prepare("t", 0, 0)
    (bind,) = mapped(prepared)
    assert bind.read_only and (bind.source / "a.txt").read_bytes() == b"A"
