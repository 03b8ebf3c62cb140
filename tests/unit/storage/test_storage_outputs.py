"""OutputMapping uploads: relative paths kept, whole objects, clear failures."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest

from localbatch.config import Config
from localbatch.storage.errors import StorageError
from localbatch.storage.outputs import upload_directory
from localbatch.storage.resolver import OssResolver
from localbatch.tempfiles import TEMPORARY_PREFIX, temporary_name
from tests.unit.storage.storage_helpers import job_storage, task_body, write


def test_tree_uploaded_with_relative_paths(config: Config, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "a.txt", "a")
    write(out / "deep/er/b.bin", b"\x00\x01")
    (out / "empty-dir").mkdir()
    prefix = OssResolver(config.oss).resolve("oss://bkt/results/")
    assert upload_directory(out, prefix, link_ok=False) == 2
    assert (config.oss.root / "bkt/results/a.txt").read_text() == "a"
    assert (config.oss.root / "bkt/results/deep/er/b.bin").read_bytes() == b"\x00\x01"
    assert not (config.oss.root / "bkt/results/empty-dir").exists()
    assert (out / "a.txt").exists()


def test_zero_copy_publish_only_for_files_nobody_else_links(config: Config, tmp_path: Path) -> None:
    out = tmp_path / "out"
    alone = write(out / "alone.txt", "1")
    alone_inode = alone.stat().st_ino
    shared = write(out / "shared.txt", "2")
    os.link(shared, tmp_path / "other-link")
    upload_directory(out, OssResolver(config.oss).resolve("oss://bkt/r/"), link_ok=True)
    assert (config.oss.root / "bkt/r/alone.txt").stat().st_ino == alone_inode  # moved
    assert not alone.exists()
    assert (config.oss.root / "bkt/r/shared.txt").stat().st_ino != shared.stat().st_ino  # copied
    assert (config.oss.root / "bkt/r/shared.txt").read_text() == "2"


def test_last_writer_wins(config: Config, tmp_path: Path) -> None:
    prefix = OssResolver(config.oss).resolve("oss://bkt/same/")
    for n in (1, 2):
        write(tmp_path / f"o{n}/k.txt", f"instance {n}")
        upload_directory(tmp_path / f"o{n}", prefix, link_ok=False)
    assert (config.oss.root / "bkt/same/k.txt").read_text() == "instance 2"


def test_symlink_inside_is_uploaded_as_content(config: Config, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "real.txt", "content")
    os.symlink("real.txt", out / "alias.txt")
    upload_directory(out, OssResolver(config.oss).resolve("oss://bkt/r/"), link_ok=True)
    assert (config.oss.root / "bkt/r/alias.txt").read_text() == "content"
    assert not (config.oss.root / "bkt/r/alias.txt").is_symlink()


def test_symlink_leading_out_fails_the_upload(config: Config, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.symlink("/etc/hostname", out / "leak")
    with pytest.raises(StorageError) as caught:
        upload_directory(out, OssResolver(config.oss).resolve("oss://bkt/r/"), link_ok=False)
    assert caught.value.code == "OutputUploadFailed" and "leak" in caught.value.message
    assert not (config.oss.root / "bkt/r/leak").exists()


def test_failed_upload_leaves_nothing_half_written(config: Config, tmp_path: Path) -> None:
    write(tmp_path / "out/big.bin", b"x" * 100_000)

    def broken_copy(source_fd: int, target_fd: int) -> None:
        os.write(target_fd, b"x" * 10)
        os.close(target_fd)
        raise OSError(28, "No space left on device")

    prefix = OssResolver(config.oss).resolve("oss://bkt/r/")
    with (
        mock.patch("localbatch.storage.transfer._copy_to", broken_copy),
        pytest.raises(StorageError) as caught,
    ):
        upload_directory(tmp_path / "out", prefix, link_ok=False)
    assert caught.value.code == "OutputUploadFailed"
    assert "big.bin" in caught.value.message and "No space left" in caught.value.message
    assert not (config.oss.root / "bkt/r/big.bin").exists()
    assert not [p for p in config.oss.root.rglob("*") if p.is_file()]


def test_memory_target_gets_single_puts(memory_config: Config, tmp_path: Path) -> None:
    write(tmp_path / "out/x/y.txt", "y")
    prefix = OssResolver(memory_config.oss).resolve("oss://mem/o/")
    upload_directory(tmp_path / "out", prefix, link_ok=True)
    assert prefix.fs.cat(prefix.path + "/x/y.txt") == b"y"


def test_many_files_to_a_remote_prefix(memory_config: Config, tmp_path: Path) -> None:
    for n in range(30):
        write(tmp_path / f"out/d{n % 3}/f{n}.txt", str(n))
    prefix = OssResolver(memory_config.oss).resolve("oss://mem/many/")
    assert upload_directory(tmp_path / "out", prefix, link_ok=True) == 30
    assert prefix.fs.cat(prefix.path + "/d2/f29.txt") == b"29"


def test_a_failing_remote_put_is_an_output_upload_error(
    memory_config: Config, tmp_path: Path
) -> None:
    for n in range(5):
        write(tmp_path / f"out/f{n}.txt", str(n))
    prefix = OssResolver(memory_config.oss).resolve("oss://mem/fail/")
    real_put = prefix.fs.put_file

    def put_file(local: str, remote: str, **kwargs: object) -> None:
        if remote.endswith("f3.txt"):
            raise PermissionError("AccessDenied: no write permission")
        real_put(local, remote, **kwargs)

    with (
        mock.patch.object(prefix.fs, "put_file", put_file),
        pytest.raises(StorageError) as caught,
    ):
        upload_directory(tmp_path / "out", prefix, link_ok=False)
    assert caught.value.code == "OutputUploadFailed"
    assert "f3.txt" in caught.value.message and "AccessDenied" in caught.value.message
    assert not prefix.fs.exists(prefix.path + "/f3.txt")


def test_a_link_leading_out_is_refused_before_anything_is_uploaded(
    config: Config, tmp_path: Path
) -> None:
    write(tmp_path / "out/a.txt", "a")
    os.symlink("/etc/hostname", tmp_path / "out/z-leak")
    with pytest.raises(StorageError):
        upload_directory(
            tmp_path / "out", OssResolver(config.oss).resolve("oss://bkt/r/"), link_ok=False
        )
    assert not (config.oss.root / "bkt/r/a.txt").exists()


def test_a_job_sweeps_what_uploads_of_dead_processes_left(config: Config, tmp_path: Path) -> None:
    temp_dir = config.oss.root / ".localbatch-meta" / "tmp"
    # pid 1 runs, but did not start at time 123: the writer is gone
    left = write(temp_dir / f"{TEMPORARY_PREFIX}1-123.0-{'0' * 32}", b"half")
    mine = write(temp_dir / temporary_name(), b"being written")
    job_storage(config, {"t": task_body()})
    assert not left.exists() and mine.exists()
