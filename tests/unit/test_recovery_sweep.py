"""The running server's periodic look for orphans: a job whose runner dies while the server
runs (a `localbatch run` killed beside it) is recovered without a restart. The interval is
injected, so the test takes a fraction of a second; with the periodic look taken away the
start-up sweep alone never sees this job, and the test fails."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from localbatch.config import load_config
from localbatch.runtime.fake import FakeRuntime
from localbatch.server.stack import ServiceStack, start_stack
from localbatch.states import State
from tests.unit.server.server_helpers import DEAD_RUNNER, make_body, record_orphan

INTERVAL = 0.05


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[ServiceStack]:
    config = load_config(
        tmp_path / "none.toml", env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss"
    )
    started = start_stack(config, FakeRuntime(), port=0, oss_port=None, sweep_interval=INTERVAL)
    yield started
    started.close()


def test_a_job_orphaned_while_the_server_runs_is_recovered(stack: ServiceStack) -> None:
    store, bus = stack.local.store, stack.local.bus
    ended = threading.Event()
    bus.subscribe(lambda e: ended.set() if e.category == "Job" and e.state.terminal else None)
    # Recorded by a `localbatch run` that has died since: split.0 Running, no retry left.
    record_orphan(store, make_body(instances=1))
    assert ended.wait(10), "the periodic sweep did not recover the job"
    job = store.get_job("job-1")
    assert job is not None and job.state == State.FAILED and job.runner != DEAD_RUNNER
    (lost,) = store.attempts("job-1", "split", 0)
    assert (lost.state, lost.error_code) == (State.FAILED, "Lost")
