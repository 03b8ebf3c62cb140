"""The package cache: safe extraction, one unpack per content, cheap private copies."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import threading
from pathlib import Path

import pytest

from localbatch.config import Config, ConfigError, load_config
from localbatch.storage.errors import StorageError
from localbatch.storage.packages import SMALL_FILE_LIMIT, PackageCache
from localbatch.storage.resolver import OssResolver
from tests.unit.storage.storage_helpers import job_storage, make_config, tar_gz, task_body, write


def add(tar: tarfile.TarFile, name: str, kind: bytes = tarfile.REGTYPE, **attrs: object) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in attrs.items():
        setattr(info, key, value)
    data = b"evil" if kind == tarfile.REGTYPE else b""
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


#: Config forcing the link strategy (the fallback when no overlay can be mounted).
LINK = '[packages]\ncopy = "link"\n'


def fetch(config: Config, url: str, cache: PackageCache | None = None) -> Path:
    cache = cache or PackageCache(config.state_dir / "cache/packages")
    return cache.fetch(OssResolver(config.oss).resolve(url)).tree


@pytest.mark.parametrize(
    ("crafted", "reason"),
    [
        (lambda t: add(t, "/etc/evil"), "absolute name"),
        (lambda t: add(t, "../evil"), "outside"),
        (lambda t: add(t, "a/../../evil"), "outside"),
        (lambda t: add(t, "link", tarfile.SYMTYPE, linkname="/etc"), "absolute path"),
        (lambda t: add(t, "link", tarfile.SYMTYPE, linkname="../../.."), "leading outside"),
        (lambda t: add(t, "hard", tarfile.LNKTYPE, linkname="../outside"), "outside"),
        (lambda t: add(t, "dev", tarfile.CHRTYPE, devmajor=1, devminor=3), "device"),
        (lambda t: add(t, "fifo", tarfile.FIFOTYPE), "device"),
    ],
)
def test_unsafe_members_are_refused_and_nothing_is_written(
    config: Config, tmp_path: Path, crafted: object, reason: str
) -> None:
    write(config.oss.root / "bkt/p.tar.gz", tar_gz({"ok.txt": b"ok"}, extra=crafted))  # type: ignore[arg-type]
    before = set(tmp_path.rglob("*"))
    with pytest.raises(StorageError) as caught:
        fetch(config, "oss://bkt/p.tar.gz")
    assert caught.value.code == "PackageError"
    assert reason in caught.value.message
    created = set(tmp_path.rglob("*")) - before
    assert all(path.is_relative_to(config.state_dir) for path in created)
    assert not [p for p in created if p.is_file()]
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()


def test_symlink_then_write_through_it_is_refused(config: Config) -> None:
    def crafted(tar: tarfile.TarFile) -> None:
        add(tar, "escape", tarfile.SYMTYPE, linkname=".")
        add(tar, "escape/../../x")

    write(config.oss.root / "bkt/p.tar.gz", tar_gz({}, extra=crafted))
    with pytest.raises(StorageError, match="outside"):
        fetch(config, "oss://bkt/p.tar.gz")


def test_not_an_archive_is_a_package_error(config: Config) -> None:
    write(config.oss.root / "bkt/p.tar.gz", b"this is not gzip")
    with pytest.raises(StorageError) as caught:
        fetch(config, "oss://bkt/p.tar.gz")
    assert caught.value.code == "PackageError" and "not a readable .tar.gz" in caught.value.message


def test_missing_package_is_a_package_error(config: Config) -> None:
    with pytest.raises(StorageError) as caught:
        fetch(config, "oss://bkt/none.tar.gz")
    assert (caught.value.code, caught.value.message) == (
        "PackageError",
        "PackagePath oss://bkt/none.tar.gz does not exist",
    )


def test_same_content_under_two_names_is_unpacked_once(config: Config) -> None:
    archive = tar_gz({"main.py": b"print(2)"})
    write(config.oss.root / "bkt/one.tar.gz", archive)
    write(config.oss.root / "bkt/two.tar.gz", archive)
    cache = PackageCache(config.state_dir / "cache/packages")
    one = fetch(config, "oss://bkt/one.tar.gz", cache)
    assert one == fetch(config, "oss://bkt/two.tar.gz", cache)
    assert len([p for p in cache.cache_dir.iterdir() if len(p.name) == 64]) == 1


def test_a_changed_archive_is_unpacked_again(config: Config) -> None:
    path = write(config.oss.root / "bkt/p.tar.gz", tar_gz({"v": b"1"}))
    cache = PackageCache(config.state_dir / "cache/packages")
    first = fetch(config, "oss://bkt/p.tar.gz", cache)
    path.write_bytes(tar_gz({"v": b"22"}))
    second = fetch(config, "oss://bkt/p.tar.gz", cache)
    assert first != second and (second / "v").read_bytes() == b"22"


def test_concurrent_instances_unpack_once(config: Config) -> None:
    write(config.oss.root / "bkt/p.tar.gz", tar_gz({f"f{i}": b"x" * i for i in range(20)}))
    storage = job_storage(
        config,
        {
            "t": task_body(
                Parameters={"Command": {"CommandLine": "x", "PackagePath": "oss://bkt/p.tar.gz"}}
            )
        },
    )
    prepared = []
    threads = [
        threading.Thread(target=lambda n=n: prepared.append(storage.prepare("t", n, 0)))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(prepared) == 8
    entries = [p for p in storage.packages.cache_dir.iterdir() if len(p.name) == 64]
    assert len(entries) == 1
    for attempt in prepared:
        assert (attempt.workdir / "f7").read_bytes() == b"x" * 7
        storage.finish(attempt)


def test_link_mode_gives_each_attempt_a_private_tree(tmp_path: Path) -> None:
    config = make_config(tmp_path, LINK)
    big = b"B" * (SMALL_FILE_LIMIT + 1)
    archive = tar_gz({"conf/app.ini": b"a=1", "run.sh": b"echo", "model.bin": big})
    write(config.oss.root / "bkt/p.tar.gz", archive)
    storage = job_storage(
        config,
        {
            "t": task_body(
                Parameters={"Command": {"CommandLine": "x", "PackagePath": "oss://bkt/p.tar.gz"}}
            )
        },
    )
    one, two = storage.prepare("t", 0, 0), storage.prepare("t", 1, 0)
    assert (one.package_copy, two.package_copy) == ("link", "link")
    (one.workdir / "conf/new.txt").write_text("mine")  # directories are private and writable
    (one.workdir / "run.sh").unlink()  # deleting a package file touches only this attempt
    with (one.workdir / "conf/app.ini").open("a") as small:  # small files are private copies
        small.write("b=2")
    assert not (two.workdir / "conf/new.txt").exists()
    assert (two.workdir / "run.sh").exists()
    assert (two.workdir / "conf/app.ini").read_text() == "a=1"
    assert (two.workdir / "model.bin").read_bytes() == big
    # large files are shared, read-only links to the cache
    info = (two.workdir / "model.bin").stat()
    assert info.st_nlink >= 3 and not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    storage.finish(one)
    storage.finish(two)


def test_copy_mode_gives_writable_independent_files(config: Config) -> None:
    write(config.oss.root / "bkt/p.tar.gz", tar_gz({"data.txt": b"orig"}))
    cache = PackageCache(config.state_dir / "cache/copy", copy_mode="copy")
    package = cache.fetch(OssResolver(config.oss).resolve("oss://bkt/p.tar.gz"))
    cache.materialize(package, config.state_dir / "w")
    (config.state_dir / "w/data.txt").write_text("changed")
    assert (package.tree / "data.txt").read_text() == "orig"


def test_a_cache_entry_written_through_a_link_is_evicted_and_unpacked_again(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, LINK)
    write(config.oss.root / "bkt/p.tar.gz", tar_gz({"data.txt": b"orig" * SMALL_FILE_LIMIT}))
    task = task_body(
        Parameters={"Command": {"CommandLine": "x", "PackagePath": "oss://bkt/p.tar.gz"}}
    )
    storage = job_storage(config, {"t": task})
    first = storage.prepare("t", 0, 0)
    target = first.workdir / "data.txt"
    os.chmod(target, 0o644)  # what a root program may do: write a shared file in place
    target.write_text("corrupted")
    storage.finish(first)
    second = storage.prepare("t", 1, 0)
    assert (second.workdir / "data.txt").read_text() == "orig" * SMALL_FILE_LIMIT
    storage.finish(second)


def test_empty_package_path_gives_an_empty_workdir(config: Config) -> None:
    storage = job_storage(config, {"t": task_body()})
    prepared = storage.prepare("t", 0, 0)
    assert prepared.workdir.is_dir() and not any(prepared.workdir.iterdir())
    storage.finish(prepared)


def test_package_copy_setting_selects_plain_copies(tmp_path: Path) -> None:
    config = make_config(tmp_path, '[packages]\ncopy = "copy"\n')
    write(config.oss.root / "bkt/p.tar.gz", tar_gz({"big.bin": b"x" * (SMALL_FILE_LIMIT + 1)}))
    task = task_body(
        Parameters={"Command": {"CommandLine": "x", "PackagePath": "oss://bkt/p.tar.gz"}}
    )
    storage = job_storage(config, {"t": task})
    assert storage.packages.copy_mode == "copy"
    prepared = storage.prepare("t", 0, 0)
    info = (prepared.workdir / "big.bin").stat()
    assert info.st_nlink == 1 and info.st_mode & stat.S_IWUSR
    storage.finish(prepared)


def test_package_copy_from_the_environment_and_refused_values(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    assert load_config(path, env={"LOCALBATCH_PACKAGE_COPY": "copy"}).package_copy == "copy"
    assert load_config(path, env={"LOCALBATCH_PACKAGE_COPY": "overlay"}).package_copy == "overlay"
    assert load_config(path, env={}).package_copy == "auto"
    with pytest.raises(ConfigError, match="'auto', 'overlay', 'link' or 'copy'"):
        load_config(path, env={"LOCALBATCH_PACKAGE_COPY": "reflink"})
