"""Fixtures for engine tests: job bodies, an engine on the fake runtime, a storage stand-in,
a manual clock and an event log (test modules use them through fixtures only)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from localbatch.config import Config, load_config
from localbatch.engine.capacity import HostCapacity
from localbatch.engine.service import Engine
from localbatch.events import Event, EventBus
from localbatch.runtime.fake import FakeRuntime
from localbatch.spec.model import Job, parse_job
from localbatch.storage.needs import Need, package_view


def task_body(command: str = "python3 main.py", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "InstanceCount": 1,
        "MaxRetryCount": 0,
        "Timeout": 60,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
        "Parameters": {"Command": {"CommandLine": command, "PackagePath": ""}},
    }
    body.update(fields)
    return body


def make_job(
    tasks: dict[str, dict[str, Any]],
    dependencies: dict[str, list[str]] | None = None,
    **fields: Any,
) -> Job:
    body: dict[str, Any] = {
        "Name": "test-job",
        "Type": "DAG",
        "JobFailOnInstanceFail": True,
        "DAG": {"Tasks": tasks, "Dependencies": dependencies or {}},
    }
    body.update(fields)
    return parse_job(body)


@dataclass
class StandInPrepared:
    workdir: Path
    needs: tuple[Need, ...] = ()
    stdout_path: Path = Path("/dev/null")
    stderr_path: Path = Path("/dev/null")
    stdout_object: str = ""
    stderr_object: str = ""
    streaming: bool = False

    def start_streaming(self) -> None:
        self.streaming = True


class StorageFailure(Exception):
    """Shaped like localbatch.storage's StorageError: a code and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class StandInStorage:
    """Records every call; fails prepare/finish for the (task, instance, attempt) asked."""

    root: Path
    prepare_failures: dict[tuple[str, int, int], StorageFailure] = field(default_factory=dict)
    finish_failures: dict[tuple[str, int, int], StorageFailure] = field(default_factory=dict)
    prepared: list[tuple[str, int, int]] = field(default_factory=list)
    finished: list[tuple[str, int, int, bool]] = field(default_factory=list)
    closed: int = 0

    def prepare(self, task_name: str, instance_id: int, attempt: int) -> StandInPrepared:
        key = (task_name, instance_id, attempt)
        self.prepared.append(key)
        if key in self.prepare_failures:
            raise self.prepare_failures[key]
        workdir = self.root / f"{task_name}.{instance_id}.{attempt}"
        workdir.mkdir(parents=True, exist_ok=True)
        return StandInPrepared(
            workdir=workdir,
            needs=(package_view(workdir),),
            stdout_path=self.root / f"stdout.{task_name}.{instance_id}",
            stderr_path=self.root / f"stderr.{task_name}.{instance_id}",
            stdout_object=f"oss://bkt/logs/stdout.job.{task_name}.{instance_id}",
        )

    def finish(self, prepared: StandInPrepared, *, keep: bool = False) -> None:
        name = prepared.workdir.name.split(".")
        key = (name[0], int(name[1]), int(name[2]))
        self.finished.append((*key, keep))
        if key in self.finish_failures:
            raise self.finish_failures[key]

    def close(self) -> None:
        self.closed += 1


class ManualClock:
    """A clock tests move by hand; every reading is recorded in events."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.value = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.value

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.value += seconds


class EventLog:
    """Collects published events; lets a test wait for one without sleeping."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        with self._cond:
            found: list[Event] = []

            def seen() -> bool:
                found[:] = [e for e in self.events if predicate(e)]
                return bool(found)

            assert self._cond.wait_for(seen, timeout), "event not published in time"
            return found[0]

    def names(self, category: str | None = None) -> list[str]:
        return [e.name for e in self.events if category is None or e.category == category]

    def of_instance(self, task: str, instance: int) -> list[Event]:
        return [
            e
            for e in self.events
            if e.category == "Instance" and e.task_name == task and e.instance_id == instance
        ]


@dataclass
class EngineHarness:
    engine: Engine
    runtime: FakeRuntime
    storage: StandInStorage
    log: EventLog
    clock: ManualClock
    config: Config

    def fail_prepare(self, key: tuple[str, int, int], code: str, message: str = "failed") -> None:
        self.storage.prepare_failures[key] = StorageFailure(code, message)

    def fail_finish(self, key: tuple[str, int, int], code: str, message: str = "failed") -> None:
        self.storage.finish_failures[key] = StorageFailure(code, message)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(tmp_path / "none.toml", env={}, state_dir=tmp_path / "state")


@pytest.fixture
def harness_factory(tmp_path: Path, config: Config) -> Iterator[Callable[..., EngineHarness]]:
    engines: list[Engine] = []

    def build(capacity: HostCapacity | None = None, oss_host: str = "") -> EngineHarness:
        runtime = FakeRuntime()
        storage = StandInStorage(tmp_path / "work")
        bus = EventBus()
        log = EventLog()
        bus.subscribe(log)
        clock = ManualClock()
        engine = Engine(
            config,
            runtime,
            bus,
            oss_host=oss_host,
            clock=clock,
            storage_factory=lambda *_: storage,
            capacity=capacity or HostCapacity.unlimited(),
        )
        engines.append(engine)
        return EngineHarness(engine, runtime, storage, log, clock, config)

    yield build
    for engine in engines:
        engine.shutdown(timeout=5)


@pytest.fixture
def harness(harness_factory: Callable[..., EngineHarness]) -> EngineHarness:
    return harness_factory()


@pytest.fixture
def job_factory() -> Callable[..., Job]:
    """make_job(tasks, dependencies, **fields) -> Job."""
    return make_job


@pytest.fixture
def task_factory() -> Callable[..., dict[str, Any]]:
    """task_body(command, **fields) -> a task's JSON body."""
    return task_body
