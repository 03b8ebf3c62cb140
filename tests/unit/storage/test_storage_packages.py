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
from localbatch.storage import cache_pruning
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


@pytest.mark.parametrize("name", ["a/../b", "../evil", "a/../../evil", "./a/../a"])
def test_a_dotdot_member_is_refused_even_when_it_stays_inside(config: Config, name: str) -> None:
    """Decided: `a/../b` would land inside the work directory, but a name that means something
    else than it reads is refused like one leading out."""
    write(config.oss.root / "bkt/p.tar.gz", tar_gz({"ok.txt": b"ok"}, extra=lambda t: add(t, name)))
    with pytest.raises(StorageError) as caught:
        fetch(config, "oss://bkt/p.tar.gz")
    assert "'..' segment" in caught.value.message and repr(name) in caught.value.message


def bomb() -> bytes:
    """60 MiB of zeros in a few dozen KiB: a small, highly compressible archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, size in (("first.bin", 1 << 20), ("second.bin", 60 << 20)):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
    return buffer.getvalue()


def test_a_package_bomb_is_refused_while_unpacking(config: Config) -> None:
    archive = bomb()
    assert len(archive) < 200_000
    write(config.oss.root / "bkt/bomb.tar.gz", archive)
    cache = PackageCache(config.state_dir / "cache/packages", max_unpacked=8 << 20)
    with pytest.raises(StorageError) as caught:
        fetch(config, "oss://bkt/bomb.tar.gz", cache)
    message = caught.value.message
    assert caught.value.code == "PackageError"
    assert f"more than {8 << 20} bytes" in message and "max_unpacked_size" in message
    assert "'second.bin'" in message  # stopped at the member that passed the limit
    leftovers = [p for p in (config.state_dir / "cache/packages").rglob("*") if p.is_file()]
    assert leftovers == []
    roomy = PackageCache(config.state_dir / "cache/roomy", max_unpacked=64 << 20)
    assert (fetch(config, "oss://bkt/bomb.tar.gz", roomy) / "second.bin").stat().st_size == 60 << 20


def test_the_unpacked_size_limit_is_a_setting(tmp_path: Path) -> None:
    config = make_config(tmp_path, '[packages]\nmax_unpacked_size = "4MiB"\ncache_size = "1GiB"\n')
    assert (config.package_max_unpacked, config.package_cache_size) == (4 << 20, 1 << 30)
    write(config.oss.root / "bkt/bomb.tar.gz", bomb())
    storage = job_storage(
        config,
        {
            "t": task_body(
                Parameters={"Command": {"CommandLine": "x", "PackagePath": "oss://bkt/bomb.tar.gz"}}
            )
        },
        job_id="job-bomb",
    )
    with pytest.raises(StorageError, match="max_unpacked_size"):
        storage.prepare("t", 0, 0)
    with pytest.raises(ConfigError, match="max_unpacked_size"):
        make_config(tmp_path, '[packages]\nmax_unpacked_size = "lots"\n')
    default = make_config(tmp_path)
    assert (default.package_max_unpacked, default.package_cache_size) == (4 << 30, 20 << 30)


def _sized_package(config: Config, name: str, size: int) -> str:
    write(config.oss.root / f"bkt/{name}.tar.gz", tar_gz({f"{name}.bin": os.urandom(size)}))
    return f"oss://bkt/{name}.tar.gz"


def test_the_cache_is_pruned_least_recently_used_first_but_never_what_is_held(
    config: Config,
) -> None:
    cache_dir = config.state_dir / "cache/packages"
    cache = PackageCache(cache_dir, cache_size=250_000)
    resolve = OssResolver(config.oss).resolve
    oldest, older, newest = (
        _sized_package(config, name, 100_000) for name in ("oldest", "older", "newest")
    )
    held_package, hold = cache.fetch_held(resolve(oldest))  # held: an attempt runs on it
    older_package = cache.fetch(resolve(older))
    os.utime(cache_dir / held_package.digest / "last-used", (1, 1))  # least recently used
    os.utime(cache_dir / older_package.digest / "last-used", (2, 2))
    newest_package = cache.fetch(resolve(newest))  # over the cap: something must go
    entries = {p.name for p in cache_dir.iterdir() if len(p.name) == 64}
    assert entries == {held_package.digest, newest_package.digest}
    hold.release()
    assert cache.fetch(resolve(older)).tree.is_dir()  # unpacked again when needed
    entries = {p.name for p in cache_dir.iterdir() if len(p.name) == 64}
    assert held_package.digest not in entries  # released and least recently used: pruned
    assert len(entries) == 2


def test_an_entry_an_overlay_still_uses_is_not_pruned(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attempt adopted after its process died holds no lock; its overlay mount shows."""
    cache_dir = config.state_dir / "cache/packages"
    cache = PackageCache(cache_dir, cache_size=150_000)
    resolve = OssResolver(config.oss).resolve
    mounted = cache.fetch(resolve(_sized_package(config, "mounted", 100_000)))
    monkeypatch.setattr(
        "localbatch.storage.cache_pruning._mounted_lower_dirs", lambda: {str(mounted.tree)}
    )
    other = cache.fetch(resolve(_sized_package(config, "other", 100_000)))
    entries = {p.name for p in cache_dir.iterdir() if len(p.name) == 64}
    assert entries == {mounted.digest, other.digest}  # over the cap, but nothing is free


def test_an_attempt_holds_its_package_entry_from_prepare_to_finish(tmp_path: Path) -> None:
    config = make_config(tmp_path, LINK)  # no overlay mount: the hold alone protects it
    write(config.oss.root / "bkt/p.tar.gz", tar_gz({"main.py": b"print(1)"}))
    body = task_body(
        Parameters={"Command": {"CommandLine": "x", "PackagePath": "oss://bkt/p.tar.gz"}}
    )
    storage = job_storage(config, {"t": body}, job_id="job-hold")
    prepared = storage.prepare("t", 0, 0)
    assert prepared.package is not None
    entry = storage.packages.cache_dir / prepared.package.digest
    assert cache_pruning.prune(entry.parent, cap=0) == []  # held: nothing can go
    storage.finish(prepared)
    assert cache_pruning.prune(entry.parent, cap=0) == [entry]
