"""The root file system cache: made once per key by whoever comes first, never half-made."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from localbatch.images.store import Fill, RootfsStore, RunConfig
from localbatch.runtime.image_supply import ImageProblem

KEY = "ab" * 32


def _fill(marker: str, calls: list[str]) -> Fill:
    def fill(work: Path) -> RunConfig:
        calls.append(marker)
        time.sleep(0.05)  # long enough for the other threads to arrive meanwhile
        (work / "rootfs").mkdir()
        (work / "rootfs" / "marker").write_text(marker)
        return RunConfig({"A": "1"}, ("/bin/tini", "--"))

    return fill


def test_concurrent_preparations_make_it_once(tmp_path: Path) -> None:
    store = RootfsStore(tmp_path)
    calls: list[str] = []
    results = []
    threads = [
        threading.Thread(
            target=lambda n=n: results.append(store.prepare(KEY, "src", _fill(str(n), calls)))
        )
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert {r.rootfs for r in results} == {tmp_path / "rootfs" / KEY / "rootfs"}
    assert (results[0].rootfs / "marker").read_text() == calls[0]
    assert results[0].env == {"A": "1"} and results[0].source == "src"
    assert results[0].entrypoint == ("/bin/tini", "--")
    other = RootfsStore(tmp_path)  # another process sharing the cache finds it made
    assert other.get(KEY) == results[0]


def test_a_failed_preparation_leaves_nothing(tmp_path: Path) -> None:
    store = RootfsStore(tmp_path)

    def fail(work: Path) -> RunConfig:
        (work / "rootfs").mkdir()
        raise ImageProblem("the copy failed")

    with pytest.raises(ImageProblem):
        store.prepare(KEY, "src", fail)
    assert store.get(KEY) is None
    assert list((tmp_path / "tmp").iterdir()) == []
    calls: list[str] = []
    assert store.prepare(KEY, "src", _fill("again", calls)).rootfs.is_dir()


def test_names_recorded_by_a_build(tmp_path: Path) -> None:
    store = RootfsStore(tmp_path)
    assert store.named("team/base:1") is None
    store.prepare(KEY, "built", _fill("x", []))
    store.record_name("team/base:1", KEY)
    prepared = store.named("team/base:1")
    assert prepared is not None and prepared.key == KEY
    assert store.named("team/base:2") is None


def test_keys_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ImageProblem, match="not an image cache key"):
        RootfsStore(tmp_path).get("../escape")


def test_leftovers_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / "tmp" / "999999999-abc"
    alive = tmp_path / "tmp" / f"{os.getpid()}-abc"
    dead.mkdir(parents=True)
    alive.mkdir()
    RootfsStore(tmp_path).clean_stale()
    assert not dead.exists() and alive.exists()


def test_run_config_reads_an_image_configs_env_and_entrypoint() -> None:
    config = {"config": {"Env": ["A=1", "B=x=y", "broken", 3], "Entrypoint": ["/e", "-x"]}}
    assert RunConfig.of(config) == RunConfig({"A": "1", "B": "x=y"}, ("/e", "-x"))
    assert RunConfig.of({"config": {"Entrypoint": None}}) == RunConfig()
    assert RunConfig.of({}) == RunConfig()


def test_the_work_directory_mount_point_is_made_in_the_image_never_through_a_link(
    tmp_path: Path,
) -> None:
    store = RootfsStore(tmp_path / "cache")
    made = store.prepare(KEY, "src", _fill("x", []))
    assert (made.rootfs / "batchcompute" / "workdir").is_dir()
    assert (made.rootfs / "etc" / "hosts").read_text() == ""

    outside = tmp_path / "outside"
    outside.mkdir()

    def hostile(work: Path) -> RunConfig:
        (work / "rootfs").mkdir()
        (work / "rootfs" / "batchcompute").symlink_to(outside)
        (work / "rootfs" / "etc").symlink_to(outside)
        return RunConfig()

    store.prepare("cd" * 32, "src", hostile)
    assert list(outside.iterdir()) == []
