"""Running a job to its end in this process (`run`, `start`): start or recover, wait,
stop on Ctrl-C."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localbatch.application.foreground import (
    begin_stop,
    kill_now,
    start_or_recover,
    wait_for_end,
    wait_for_stop,
)
from localbatch.application.stack import LocalService, open_local_service
from localbatch.config import Config
from localbatch.events import Event
from localbatch.runtime.base import STOP_GRACE_SECONDS
from localbatch.runtime.fake import FakeRuntime, FakeStep
from localbatch.spec.errors import ApiError
from localbatch.spec.model import parse_job
from localbatch.states import State
from localbatch.store import Store
from tests.unit.server.server_helpers import make_body

DEAD = "999999999:1.000"


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def local(config: Config, runtime: FakeRuntime) -> Iterator[LocalService]:
    local = open_local_service(config, runtime, oss_port=None)
    yield local
    local.close()


def _recorded(config: Config, state: State, runner: str) -> str:
    """A job another process recorded and left in `state`."""
    store = Store.open(config.state_dir)
    try:
        store.create_job("job-1", parse_job(make_body()), created=1.0, runner=runner)
        name = f"OnJob{state.value}"
        store.on_event(Event(name, "job-1", state, 2.0, "Job", start_time=2.0, end_time=2.0))
    finally:
        store.close()
    return "job-1"


def test_a_stopped_job_is_started_here(config: Config, local: LocalService) -> None:
    job_id = _recorded(config, State.STOPPED, DEAD)
    said: list[str] = []
    start_or_recover(local, job_id, said.append)
    assert wait_for_end(local, job_id) == State.FINISHED
    assert said == []


def test_a_job_whose_runner_died_is_recovered_here(config: Config, local: LocalService) -> None:
    job_id = _recorded(config, State.RUNNING, DEAD)
    said: list[str] = []
    start_or_recover(local, job_id, said.append)
    assert said == ["job-1: its runner is gone; recovering it here"]
    assert wait_for_end(local, job_id) == State.FINISHED


def test_a_finished_job_cannot_be_started(config: Config, local: LocalService) -> None:
    job_id = _recorded(config, State.FINISHED, DEAD)
    with pytest.raises(ApiError) as refused:
        start_or_recover(local, job_id, print)
    assert refused.value.code == "StateConflict"


def test_a_stop_ends_a_running_job_stopped(local: LocalService, runtime: FakeRuntime) -> None:
    runtime.script("split", FakeStep(hang=True))
    job_id = local.service.record(parse_job(make_body()))
    local.service.submit(job_id)
    begin_stop(local, job_id)
    assert wait_for_stop(local, job_id) == State.STOPPED


def test_a_stop_of_a_job_never_handed_over(local: LocalService) -> None:
    job_id = local.service.record(parse_job(make_body()))
    assert begin_stop(local, job_id).running == 0
    assert wait_for_stop(local, job_id) is None


def test_a_stop_says_what_runs_and_a_kill_ends_what_ignores_sigterm(
    local: LocalService, runtime: FakeRuntime
) -> None:
    runtime.script("split", FakeStep(hang=True, ignores_term=True))
    assert local.engine is not None and local.engine.stop_grace == STOP_GRACE_SECONDS
    local.engine.stop_grace = 3600  # only the kill can end it within the waits below
    job_id = local.service.record(parse_job(make_body()))
    local.service.submit(job_id)
    assert runtime.wait_running(1)
    assert wait_until_running(local, job_id)
    stopping = begin_stop(local, job_id)
    assert (stopping.running, stopping.grace) == (1, 3600)
    assert wait_for_stop(local, job_id, timeout=0.5) is None  # SIGTERM ignored: still ending
    assert kill_now(local, job_id) == 1
    assert wait_for_stop(local, job_id, timeout=60) == State.STOPPED
    assert runtime.terminated and runtime.stops[-1][1] == 0


def wait_until_running(local: LocalService, job_id: str) -> bool:
    """The engine has seen its attempt start (the Running event)."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        record = local.store.get_job(job_id)
        if record is not None and record.state == State.RUNNING:
            return True
        time.sleep(0.01)
    return False
