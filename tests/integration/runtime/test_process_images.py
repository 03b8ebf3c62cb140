"""The process runtime in an image: programs see the image, write into a private layer that
goes with the attempt, and the cache is never changed; without overlays the image is
read-only with writable scratch directories; the host's files only when asked for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from localbatch.config import load_config
from localbatch.runtime.base import AttemptOutcome
from localbatch.runtime.process import ProcessRuntime
from localbatch.runtime.rootfs import memory_directory
from localbatch.runtime.select import select_runtime
from localbatch.storage import overlay

from .conftest import Harness

pytestmark = pytest.mark.sandbox


@pytest.fixture
def in_image(image_process_runtime: ProcessRuntime, default_rootfs: str, tmp_path: Path) -> Harness:
    (tmp_path / "workdir").mkdir()
    return Harness(image_process_runtime, default_rootfs, tmp_path)


def _rootfs(harness: Harness) -> Path:
    runtime = harness.runtime
    assert isinstance(runtime, ProcessRuntime) and runtime.images is not None
    return runtime.images.root_for(harness.image, {}).rootfs


def test_programs_see_the_image_not_the_host(in_image: Harness) -> None:
    outcome = in_image.run(in_image.spec("sh", "-c", "cat /etc/os-release; python --version"))
    assert outcome.succeeded, in_image.stderr.read_text()
    assert in_image.stdout.read_text().startswith(
        (_rootfs(in_image) / "etc/os-release").read_text()
    )
    assert "Python 3" in in_image.stdout.read_text()


def test_writes_stay_in_the_attempts_own_layer(in_image: Harness) -> None:
    marker = f"/usr/localbatch-{os.getpid()}"
    first = in_image.run(in_image.spec("sh", "-c", f"echo x > {marker} && cat {marker}"))
    assert first.succeeded and in_image.stdout.read_text() == "x\n"
    second = in_image.run(in_image.spec("sh", "-c", f"test ! -e {marker}"))
    assert second.succeeded  # the next attempt starts from the image again
    assert not (_rootfs(in_image) / marker.lstrip("/")).exists()  # the cache is untouched
    assert not Path(marker).exists()  # and so is the host
    # What the program wrote went with its attempt: every layer left is an unchanged one,
    # kept mounted for the next attempt.
    runtime = in_image.runtime
    assert isinstance(runtime, ProcessRuntime) and runtime.roots is not None
    mine = [p for p in runtime.roots.directory.iterdir() if p.name.startswith(f"{os.getpid()}-")]
    assert all(list((p / "root.upper").iterdir()) == [] for p in mine)


def test_an_unchanged_layer_serves_the_next_attempt_a_changed_one_never(
    in_image: Harness,
) -> None:
    runtime = in_image.runtime
    assert isinstance(runtime, ProcessRuntime) and runtime.roots is not None
    seen = []
    for script in ("true", "echo x > /root/x", "test ! -e /root/x", "true"):
        handle = runtime.start(in_image.spec("sh", "-c", script))
        assert not isinstance(handle, AttemptOutcome) and handle.root is not None
        seen.append(handle.root.directory)
        outcome = runtime.wait(handle, 60)
        assert outcome is not None and outcome.succeeded, script
        runtime.release(handle, keep=False)
    assert seen[1] == seen[0]  # the first one changed nothing: reused
    assert seen[2] != seen[1]  # the second wrote /root/x: never used again
    assert not seen[1].exists()
    runtime.roots.close()
    assert not [m for m in overlay._overlay_mounts(runtime.roots.directory) if m[0].parent in seen]


def test_without_overlays_the_image_is_read_only_with_scratch_directories(
    in_image: Harness,
) -> None:
    runtime = in_image.runtime
    assert isinstance(runtime, ProcessRuntime) and runtime.roots is not None
    runtime.roots._availability = overlay.Availability(False, "overlay mounts need root")
    assert "the image read-only" in runtime.describe()
    script = "echo t > /tmp/t && echo h > /root/h && cat /tmp/t /root/h; echo u > /usr/u"
    outcome = in_image.run(in_image.spec("sh", "-c", script))
    assert outcome.exit_code != 0  # the last write
    assert in_image.stdout.read_text() == "t\nh\n"
    assert "Read-only file system" in in_image.stderr.read_text()


def test_layers_in_memory_by_default_on_disk_when_asked(
    bwrap_path: str, default_rootfs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    default, _ = select_runtime("process", load_config())
    assert isinstance(default, ProcessRuntime) and default.roots is not None
    assert default.roots.directory == memory_directory()
    monkeypatch.setenv("LOCALBATCH_SANDBOX_LAYERS", "disk")
    config = load_config()
    runtime, notice = select_runtime("process", config)
    assert isinstance(runtime, ProcessRuntime) and runtime.roots is not None
    assert runtime.roots.directory == config.image_cache / "attempts"
    assert f"its layer in {config.image_cache / 'attempts'}" in notice
    (tmp_path / "workdir").mkdir()
    harness = Harness(runtime, default_rootfs, tmp_path)
    assert harness.run(harness.spec("sh", "-c", "echo x > /etc/x && cat /etc/x")).succeeded


def test_a_dead_runs_layer_is_unmounted_and_removed(in_image: Harness, tmp_path: Path) -> None:
    runtime = in_image.runtime
    assert isinstance(runtime, ProcessRuntime) and runtime.roots is not None
    leftover = runtime.roots.directory / "999999999-dead" / "root"
    leftover.mkdir(parents=True)
    overlay.mount(_rootfs(in_image), overlay.Layers.beside(leftover), leftover)
    runtime.check()
    assert not leftover.parent.exists()
    assert not [m for m in overlay._overlay_mounts(leftover.parent.parent) if m[0] == leftover]


def test_the_hosts_files_only_when_asked_and_said(
    bwrap_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    config: Any = load_config(tmp_path / "none.toml", env={}, state_dir=tmp_path)
    runtime, notice = select_runtime("process", config)
    assert isinstance(runtime, ProcessRuntime) and runtime.uses_images
    assert "programs see their image" in notice
    host = config.with_overrides(sandbox_files="host")
    runtime, notice = select_runtime("process", host)
    assert isinstance(runtime, ProcessRuntime) and not runtime.uses_images
    assert 'programs see this host\'s files, not their image ([sandbox] files = "host")' in (notice)
