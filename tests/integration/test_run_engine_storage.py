"""The engine with the real storage layer (fake runtime): packages, mappings, logs on OSS."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localbatch.config import Config, load_config
from localbatch.engine.capacity import HostCapacity
from localbatch.engine.service import Engine
from localbatch.events import EventBus
from localbatch.runtime.fake import FakeRuntime, FakeStep
from localbatch.spec.model import parse_job
from localbatch.states import State


def _tarball(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _task(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "InstanceCount": 1,
        "Timeout": 60,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
        "Parameters": {
            "Command": {"CommandLine": "python3 main.py", "PackagePath": "oss://bkt/pkg/w.tar.gz"},
            "StdoutRedirectPath": "oss://bkt/logs/",
            "StderrRedirectPath": "oss://bkt/logs/",
        },
    }
    body.update(fields)
    return body


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = load_config(
        tmp_path / "none.toml", env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss"
    )
    (config.oss.root / "bkt" / "pkg").mkdir(parents=True)
    (config.oss.root / "bkt" / "pkg" / "w.tar.gz").write_bytes(_tarball({"main.py": "print(1)"}))
    (config.oss.root / "bkt" / "in").mkdir(parents=True)
    (config.oss.root / "bkt" / "in" / "data.txt").write_text("input")
    return config


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def engine(config: Config, runtime: FakeRuntime) -> Iterator[Engine]:
    engine = Engine(config, runtime, EventBus(), capacity=HostCapacity.unlimited())
    yield engine
    engine.shutdown(timeout=10)


def test_outputs_and_logs_land_in_oss_and_flow_downstream(
    config: Config, runtime: FakeRuntime, engine: Engine
) -> None:
    runtime.script(
        "produce",
        FakeStep(stdout="hello\n", writes={"/home/output/result.txt": "42"}),
    )
    job = parse_job(
        {
            "Name": "flow",
            "DAG": {
                "Tasks": {
                    "produce": _task(
                        InputMapping={"oss://bkt/in/": "/home/input/"},
                        OutputMapping={"/home/output/": "oss://bkt/out/"},
                    ),
                    "consume": _task(InputMapping={"oss://bkt/out/": "/home/input/"}),
                },
                "Dependencies": {"produce": ["consume"]},
            },
        }
    )
    engine.submit("job-1", job)
    assert engine.wait("job-1", 30) == State.FINISHED
    root = config.oss.root
    assert (root / "bkt" / "out" / "result.txt").read_text() == "42"
    assert (root / "bkt" / "logs" / "stdout.job-1.produce.0").read_text() == "hello\n"
    produce, consume = runtime.started
    inputs = {b.target.rstrip("/"): b for b in produce.binds}
    assert inputs["/home/input"].read_only
    assert (inputs["/home/input"].source / "data.txt").read_text() == "input"
    downstream = {b.target.rstrip("/"): b for b in consume.binds}["/home/input"]
    assert (downstream.source / "result.txt").read_text() == "42"
    snap = engine.snapshot("job-1")
    detail = snap.tasks[0].instances[0].detail
    assert detail["stdout_object"] == "oss://bkt/logs/stdout.job-1.produce.0"
    assert Path(detail["stdout_path"]).read_text() == "hello\n"


def test_a_bad_package_fails_the_instance_with_package_error(
    config: Config, runtime: FakeRuntime, engine: Engine
) -> None:
    (config.oss.root / "bkt" / "pkg" / "w.tar.gz").write_bytes(b"garbage")
    engine.submit("job-2", parse_job({"Name": "bad", "DAG": {"Tasks": {"t": _task()}}}))
    assert engine.wait("job-2", 30) == State.FAILED
    inst = engine.snapshot("job-2").tasks[0].instances[0]
    assert inst.error_code == "PackageError" and inst.error_message
    assert runtime.started == []
