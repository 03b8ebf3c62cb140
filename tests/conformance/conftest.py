"""A real API server on 127.0.0.1 over the fake runtime, started per test (server_helpers)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localbatch.engine.capacity import HostCapacity
from localbatch.events import Event
from tests.unit.server.server_helpers import Api, start_api

Serve = Callable[..., Api]


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """serve(env=..., config_toml=..., max_parallel=...) -> a started server; all are stopped
    after the test. Only max_parallel bounds concurrency (not this machine's cores), so the
    same instances run side by side on any machine."""
    monkeypatch.setattr(HostCapacity, "detect", HostCapacity.unlimited)
    started: list[Api] = []

    def start(
        env: dict[str, str] | None = None, config_toml: str = "", max_parallel: int = 4
    ) -> Api:
        root = tmp_path / f"server{len(started)}"
        root.mkdir()
        if config_toml:
            (root / "none.toml").write_text(config_toml)
        api = start_api(root, env=env, max_parallel=max_parallel)
        started.append(api)
        return api

    yield start
    for api in started:
        api.stack.close()


@pytest.fixture
def api(serve: Serve) -> Api:
    return serve()


class Events:
    """The events a server's bus published; a test waits for one instead of sleeping."""

    def __init__(self, api: Api) -> None:
        self.seen: list[Event] = []
        self._cond = threading.Condition()
        api.stack.local.bus.subscribe(self._record)

    def _record(self, event: Event) -> None:
        with self._cond:
            self.seen.append(event)
            self._cond.notify_all()

    def wait_for(self, name: str, job_id: str, task: str | None = None) -> Event:
        def found() -> Event | None:
            return next(
                (
                    e
                    for e in self.seen
                    if e.name == name and e.job_id == job_id and task in (None, e.task_name)
                ),
                None,
            )

        with self._cond:
            assert self._cond.wait_for(lambda: found() is not None, 30), f"no {name}"
            event = found()
            assert event is not None
            return event


@pytest.fixture
def events(api: Api) -> Events:
    return Events(api)
