"""Private mounts of opened bind sources: what Docker is given while it creates and starts
the container, and gone from the host after it, however the start ends."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from localbatch import owner
from localbatch.runtime.base import Bind
from localbatch.runtime.docker import DockerHandle, DockerRuntime
from localbatch.runtime.docker_binds import PrivateBinds, engine_shares_mounts
from localbatch.storage.needs import Access, Need, NeedKind

from .specs import attempt_spec, dead_pid

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="private bind mounts need root")


def mounts_under(directory: Path) -> list[str]:
    with open("/proc/self/mountinfo") as table:
        points = [line.split()[4] for line in table]
    return [p for p in points if p.startswith(f"{directory}/")]


class Engine:
    """Creates, attaches and starts; notes what each bind source holds as it creates, and
    fails the step named `fails`."""

    def __init__(self, fails: str = "") -> None:
        self.fails = fails
        self.seen: dict[str, tuple[str, list[str]]] = {}

    def create_host_config(self, **options: Any) -> dict[str, Any]:
        return options

    def create_container(self, image: str, host_config: dict[str, Any], **_: Any) -> Any:
        for mount in host_config["mounts"]:
            source = mount["Source"]
            self.seen[mount["Target"]] = (source, sorted(os.listdir(source)))
        if self.fails == "create":
            raise docker.errors.APIError("no create")
        return {"Id": "c-1"}

    def attach(self, ref: str, **_: Any) -> Any:
        return iter(())

    def start(self, ref: str) -> None:
        if self.fails == "start":
            raise docker.errors.APIError("no start")

    def remove_container(self, ref: str, **_: Any) -> None:
        pass

    def inspect_container(self, ref: str) -> dict[str, Any]:
        return {"State": {"Pid": 0}}

    def wait(self, ref: str) -> dict[str, int]:
        return {"StatusCode": 0}


class Client:
    def __init__(self, api: Engine) -> None:
        self.api = api


def start(tmp_path: Path, engine: Engine, needs: tuple[Need, ...] = ()) -> Any:
    runtime = DockerRuntime(Client(engine), state_dir=tmp_path / "state")
    runtime.private_binds = PrivateBinds(tmp_path / "state/binds", lambda: True)
    (tmp_path / "workdir").mkdir()
    spec = attempt_spec(
        workdir=tmp_path / "workdir",
        needs=needs,
        image="img",
        stdout_path=tmp_path / "out",
        stderr_path=tmp_path / "err",
    )
    return runtime.start(spec)


@pytest.fixture
def bucket(tmp_path: Path) -> Need:
    (tmp_path / "bucket/data").mkdir(parents=True)
    (tmp_path / "bucket/data/f").write_text("inside\n")
    (tmp_path / "bucket/object").write_text("one object\n")
    return Need(
        NeedKind.MOUNT, tmp_path / "bucket/data", "/mnt/data", Access.READ_ONLY, tmp_path / "bucket"
    )


@as_root
def test_docker_is_given_private_mounts_gone_once_it_started(tmp_path: Path, bucket: Need) -> None:
    engine = Engine()
    handle = start(tmp_path, engine, needs=(bucket,))
    assert isinstance(handle, DockerHandle)
    binds = tmp_path / "state/binds"
    source, listed = engine.seen["/mnt/data"]
    assert Path(source).parent.parent == binds / owner.this_process()
    assert listed == ["f"]  # the bucket's directory was mounted there
    assert engine.seen["/batchcompute/workdir"][0].startswith(f"{binds}/")
    assert mounts_under(tmp_path) == []
    assert list(binds.glob("*/*")) == []


@as_root
@pytest.mark.parametrize("fails", ["create", "start"])
def test_a_failed_start_leaves_no_private_mount(tmp_path: Path, bucket: Need, fails: str) -> None:
    engine = Engine(fails)
    outcome = start(tmp_path, engine, needs=(bucket,))
    assert not isinstance(outcome, DockerHandle) and outcome.error_code == "InstanceStartFailed"
    assert engine.seen["/mnt/data"][1] == ["f"]
    assert mounts_under(tmp_path) == []
    assert list((tmp_path / "state/binds").glob("*/*")) == []


@as_root
def test_a_file_is_pinned_as_a_file(tmp_path: Path, bucket: Need) -> None:
    object_need = Need(
        NeedKind.INPUT, tmp_path / "bucket/object", "/in/object", Access.READ_ONLY, bucket.root
    )
    pinned = PrivateBinds(tmp_path / "binds", lambda: True)
    bind = Bind(object_need.source, object_need.target, True, object_need.root)
    with pinned.pinned([bind], "a") as (placed,):
        assert placed.source.read_text() == "one object\n"
        assert placed.root is None and placed.target == "/in/object"
    assert mounts_under(tmp_path) == []


@as_root
def test_sweep_removes_a_dead_runs_private_mounts_and_keeps_a_live_ones(
    tmp_path: Path, bucket: Need, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned = PrivateBinds(tmp_path / "binds", lambda: True)
    bind = Bind(bucket.source, bucket.target, True, bucket.root)
    monkeypatch.setattr(owner, "this_process", lambda: f"{dead_pid()}-0.0")
    died = pinned.pinned([bind], "died")
    (left,) = died.__enter__()  # never left: its run died
    monkeypatch.undo()
    with pinned.pinned([bind], "live") as (live,):
        assert sorted(mounts_under(tmp_path)) == sorted([str(left.source), str(live.source)])
        assert pinned.sweep() == [left.source.parent]
        assert mounts_under(tmp_path) == [str(live.source)]
        assert not left.source.parent.parent.exists()
    assert (bucket.source / "f").read_text() == "inside\n"  # unmounted, never emptied


@as_root
def test_private_mounts_sit_in_directories_only_root_may_pass(tmp_path: Path, bucket: Need) -> None:
    pinned = PrivateBinds(tmp_path / "binds", lambda: True)
    bind = Bind(bucket.source, bucket.target, True, bucket.root)
    with pinned.pinned([bind], "a") as (placed,):
        for directory in (tmp_path / "binds", placed.source.parent.parent, placed.source.parent):
            assert directory.stat().st_mode & 0o777 == 0o700, directory


def test_sweep_passes_over_stray_files_and_runs_already_gone(tmp_path: Path) -> None:
    binds = tmp_path / "binds"
    dead_run = binds / f"{dead_pid()}-0.0"
    dead_run.mkdir(parents=True)
    (binds / "stray").write_text("not a run")
    (dead_run / "stray").write_text("not a place")
    pinned = PrivateBinds(binds, lambda: True)
    assert pinned.sweep() == []
    assert PrivateBinds(tmp_path / "never-made", lambda: True).sweep() == []


def test_an_engine_elsewhere_does_not_share_mounts() -> None:
    assert not engine_shares_mounts("tcp://127.0.0.1:2375")
    assert not engine_shares_mounts("unix:///nonexistent/docker.sock")


def test_an_engine_on_a_socket_of_this_namespace_shares_mounts(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "engine.sock"))
        listener.listen()
        assert engine_shares_mounts(f"unix://{tmp_path / 'engine.sock'}")
