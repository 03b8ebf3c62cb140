"""Overlay work directories: each attempt writes to its own copy-on-write view of the cache.

These tests mount real overlays, so they need root and overlayfs; elsewhere they are
skipped with the probe's reason (the link fallback is what such a machine gets).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localbatch.config import Config, load_config
from localbatch.storage import overlay
from localbatch.storage.errors import StorageError
from localbatch.storage.instance import JobStorage, package_copy_notice
from localbatch.storage.packages import SMALL_FILE_LIMIT
from tests.unit.storage.storage_helpers import (
    job_storage,
    make_config,
    overlay_mounts_under,
    tar_gz,
    task_body,
    write,
)

BIG = b"B" * (SMALL_FILE_LIMIT * 2)
PACKAGE = {"model.bin": BIG, "conf/app.ini": b"a=1", "run.sh": b"echo"}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    availability = overlay.probe(tmp_path / "probe")
    if not availability.usable:
        pytest.skip(f"no overlay mounts here: {availability.reason}")
    return make_config(tmp_path)


def package_storage(config: Config, job_id: str = "job-1") -> JobStorage:
    write(config.oss.root / "bkt/p.tar.gz", tar_gz(PACKAGE))
    task = task_body(
        Parameters={"Command": {"CommandLine": "x", "PackagePath": "oss://bkt/p.tar.gz"}}
    )
    return job_storage(config, {"t": task}, job_id=job_id)


def test_a_write_in_place_stays_in_its_attempt(config: Config) -> None:
    storage = package_storage(config)
    one, two = storage.prepare("t", 0, 0), storage.prepare("t", 1, 0)
    assert (one.package_copy, two.package_copy) == ("overlay", "overlay")
    assert os.path.ismount(one.workdir) and os.path.ismount(two.workdir)
    with open(one.workdir / "model.bin", "r+b") as handle:  # what a root program may do
        handle.write(b"changed")
    (one.workdir / "new.txt").write_text("mine")
    (one.workdir / "run.sh").unlink()

    assert (one.workdir / "model.bin").read_bytes() == b"changed" + BIG[7:]
    assert (two.workdir / "model.bin").read_bytes() == BIG
    assert not (two.workdir / "new.txt").exists()
    assert (two.workdir / "run.sh").read_bytes() == b"echo"
    assert one.package is not None
    assert (one.package.tree / "model.bin").read_bytes() == BIG
    assert (one.package.tree / "run.sh").exists()
    assert not (one.package.tree / "new.txt").exists()
    storage.finish(one)
    storage.finish(two)


def test_finish_unmounts_and_removes_the_attempt(config: Config) -> None:
    storage = package_storage(config)
    prepared = [storage.prepare("t", n, 0) for n in range(3)]
    assert len(overlay_mounts_under(storage.work_root)) == 3
    for attempt in prepared:
        storage.finish(attempt)
    assert overlay_mounts_under(storage.work_root) == []
    assert not any((storage.work_root / "attempts").iterdir())


def test_a_work_directory_still_in_use_is_detached_lazily(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    storage = package_storage(config)
    prepared = storage.prepare("t", 0, 0)
    with open(prepared.workdir / "model.bin", "rb") as still_open:  # e.g. a leftover process
        with caplog.at_level(logging.WARNING, "localbatch.storage.overlay"):
            storage.finish(prepared)
        assert "still in use; detaching it" in caplog.text
        assert overlay_mounts_under(storage.work_root) == []
        assert not prepared.attempt_dir.exists()
        assert still_open.read() == BIG


def test_a_kept_attempt_keeps_what_the_program_saw_as_a_plain_directory(config: Config) -> None:
    storage = package_storage(config)
    prepared = storage.prepare("t", 0, 0)
    (prepared.workdir / "conf/app.ini").write_text("a=2")
    (prepared.workdir / "result.txt").write_text("partial")
    (prepared.workdir / "run.sh").unlink()
    os.mkfifo(prepared.workdir / "pipe")  # not copied (would block), not fatal either
    storage.finish(prepared, keep=True)

    assert overlay_mounts_under(storage.work_root) == []
    kept = prepared.workdir
    assert (kept / "conf/app.ini").read_text() == "a=2"
    assert (kept / "result.txt").read_text() == "partial"
    assert (kept / "model.bin").read_bytes() == BIG
    assert not (kept / "run.sh").exists() and not (kept / "pipe").exists()
    assert sorted(p.name for p in prepared.attempt_dir.iterdir()) == ["workdir"]


def test_a_kept_attempt_that_cannot_be_copied_keeps_its_changes(
    config: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    small = tmp_path / "small"  # room for the cache entry, not for a second copy of it
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "small", str(small)], check=True)
    try:
        tight = load_config(
            tmp_path / "none.toml", env={}, state_dir=small / "state", oss_root=tmp_path / "oss"
        )
        storage = package_storage(tight)
        prepared = storage.prepare("t", 0, 0)
        (prepared.workdir / "result.txt").write_text("partial")
        with caplog.at_level(logging.WARNING, "localbatch.storage.overlay"):
            storage.finish(prepared, keep=True)
        assert "could not copy the work directory" in caplog.text
        assert overlay_mounts_under(small) == []
        assert (prepared.attempt_dir / "workdir.upper/result.txt").read_text() == "partial"
    finally:
        overlay.unmount(small)


def test_a_mount_left_by_an_interrupted_run_of_the_same_attempt_is_replaced(
    config: Config,
) -> None:
    storage = package_storage(config)
    left = storage.prepare("t", 0, 0)
    (left.workdir / "stale.txt").write_text("from the interrupted run")
    again = storage.prepare("t", 0, 0)  # same attempt: the old mount goes first
    assert overlay_mounts_under(storage.work_root) == [str(again.workdir)]
    assert not (again.workdir / "stale.txt").exists()
    storage.finish(again)
    assert overlay_mounts_under(storage.work_root) == []


def test_a_failed_prepare_leaves_nothing_mounted(config: Config) -> None:
    write(config.oss.root / "bkt/p.tar.gz", tar_gz(PACKAGE))
    task = task_body(
        Parameters={"Command": {"CommandLine": "x", "PackagePath": "oss://bkt/p.tar.gz"}},
        InputMapping={"oss://bkt/in/": "/same/"},
        OutputMapping={"/same/": "oss://bkt/out/"},
    )
    storage = job_storage(config, {"t": task})
    with pytest.raises(StorageError, match="used twice"):
        storage.prepare("t", 0, 0)
    assert overlay_mounts_under(storage.work_root) == []
    assert not (storage.work_root / "attempts/t.0.0").exists()


def test_stale_mounts_of_a_dead_process_are_unmounted_live_ones_kept(
    config: Config, tmp_path: Path
) -> None:
    storage = package_storage(config)
    live = storage.prepare("t", 0, 0)
    stale = storage.work_root / "attempts/t.1.0/workdir"
    stale.mkdir(parents=True)
    mount_and_exit = (
        "import sys; from pathlib import Path; from localbatch.storage import overlay; "
        "target = Path(sys.argv[1]); "
        "overlay.mount(Path(sys.argv[2]), overlay.Layers.beside(target), target)"
    )
    assert live.package is not None
    subprocess.run([sys.executable, "-c", mount_and_exit, stale, live.package.tree], check=True)
    assert os.path.ismount(stale)

    assert overlay.clean_stale(config.state_dir) == [stale]
    assert overlay_mounts_under(storage.work_root) == [str(live.workdir)]
    storage.finish(live)
    assert overlay_mounts_under(tmp_path) == []


def test_overlays_that_are_not_localbatchs_are_left_alone(config: Config, tmp_path: Path) -> None:
    other = tmp_path / "state/jobs/j/elsewhere"
    (tmp_path / "lower").mkdir()
    other.mkdir(parents=True)
    data = f"lowerdir={tmp_path}/lower,upperdir={tmp_path}/up,workdir={tmp_path}/wk"
    (tmp_path / "up").mkdir()
    (tmp_path / "wk").mkdir()
    subprocess.run(["mount", "-t", "overlay", "someone", "-o", data, str(other)], check=True)
    try:
        assert overlay.clean_stale(config.state_dir) == []
        assert os.path.ismount(other)
    finally:
        overlay.unmount(other)


@pytest.fixture
def inside_overlay(config: Config, tmp_path: Path) -> Iterator[Path]:
    """A directory on an overlay (as the root of many containers): no upper layer there."""
    lower, merged = tmp_path / "outer-lower", tmp_path / "outer"
    lower.mkdir()
    merged.mkdir()
    overlay.mount(lower, overlay.Layers.beside(merged), merged)
    yield merged
    overlay.unmount(merged)


def test_an_upper_layer_on_overlay_is_detected_and_link_copies_are_used(
    inside_overlay: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inner = make_config(inside_overlay)
    availability = overlay.probe(inner.state_dir / "cache")
    assert not availability.usable and "trial overlay mount" in availability.reason
    storage = package_storage(inner)
    with caplog.at_level(logging.INFO, "localbatch.storage.packages"):
        prepared = storage.prepare("t", 0, 0)
    assert prepared.package_copy == "link"
    assert "package copies: link; no overlay: a trial overlay mount" in caplog.text
    assert (prepared.workdir / "model.bin").read_bytes() == BIG
    storage.finish(prepared)
    assert overlay_mounts_under(inside_overlay) == [str(inside_overlay)]  # only the outer one


def test_overlay_asked_for_but_unavailable_is_a_package_error(inside_overlay: Path) -> None:
    storage = package_storage(make_config(inside_overlay, '[packages]\ncopy = "overlay"\n'))
    with pytest.raises(StorageError) as caught:
        storage.prepare("t", 0, 0)
    assert caught.value.code == "PackageError"
    assert caught.value.message.startswith('[packages] copy = "overlay" cannot be honoured')


def test_a_path_overlayfs_cannot_name_gets_link_copies(config: Config, tmp_path: Path) -> None:
    (tmp_path / "a,b").mkdir()
    odd = make_config(tmp_path / "a,b")
    storage = package_storage(odd)
    prepared = storage.prepare("t", 0, 0)
    assert prepared.package_copy == "link"
    assert (prepared.workdir / "model.bin").read_bytes() == BIG
    storage.finish(prepared)


def test_link_and_copy_settings_mount_nothing(tmp_path: Path) -> None:
    for mode in ("link", "copy"):
        (tmp_path / mode).mkdir()
        config = make_config(tmp_path / mode, f'[packages]\ncopy = "{mode}"\n')
        storage = package_storage(config)
        prepared = storage.prepare("t", 0, 0)
        assert prepared.package_copy == mode
        assert storage.packages.notice() == f"package copies: {mode}"
        assert overlay_mounts_under(tmp_path) == []
        storage.finish(prepared)


def test_the_notice_says_overlay(config: Config) -> None:
    notice = "package copies: overlay (a copy-on-write view per attempt)"
    assert package_copy_notice(config) == notice
    assert package_storage(config).packages.notice() == notice
