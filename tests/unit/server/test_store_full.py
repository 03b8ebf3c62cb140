"""The state dir's disk fills while `serve` runs: CreateJob answers 503 StoreFull (nothing is
recorded, nothing runs), a job that ends meanwhile is recorded ended once space is back,
and the server takes new jobs again then. A real small tmpfs (root only, else skipped)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from localbatch.runtime.fake import FakeStep
from localbatch.states import State
from tests.small_disks import fill
from tests.unit.server.server_helpers import Api, make_body, start_api


def _store_state(api: Api, job_id: str) -> State:
    record = api.stack.store.get_job(job_id)
    assert record is not None
    return record.state


def _eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_create_job_on_a_full_store_is_503_and_recovers(
    tmp_path: Path, small_disk: Callable[[Path, str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    base = small_disk(tmp_path / "disk", "4m")
    api = start_api(base)
    try:
        first = api.create(make_body())
        api.wait_state(first, "Finished")
        filler = fill(base)

        for _ in range(3):
            reply = api.request("POST", "/jobs", make_body())
            assert reply.status == 503, reply.body
            assert reply.body["Code"] == "StoreFull"
            assert "no space left" in reply.body["Message"]
        assert api.stack.store.job_count() == 1
        assert api.request("GET", f"/jobs/{first}").status == 200  # reads still answer
        assert not [r for r in caplog.records if r.exc_info]

        filler.unlink()
        second = api.create(make_body())
        assert api.wait_state(second, "Finished")["State"] == "Finished"
    finally:
        api.stack.close()


def test_a_job_that_ends_while_the_store_is_full_is_recorded_once_space_is_back(
    tmp_path: Path, small_disk: Callable[[Path, str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    base = small_disk(tmp_path / "disk", "4m")
    api = start_api(base)
    gate = threading.Event()
    try:
        api.runtime.script("split", FakeStep(gate=gate))
        job_id = api.create(make_body(instances=1))
        _eventually(lambda: _store_state(api, job_id) == State.RUNNING)
        filler = fill(base)
        gate.set()  # the instance ends; its events cannot be written now
        assert api.stack.engine.wait(job_id, 30) == State.FINISHED
        time.sleep(0.5)
        assert _store_state(api, job_id) == State.RUNNING  # not recorded yet, not lost
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("no space left on device" in w and "kept" in w for w in warnings)

        filler.unlink()
        _eventually(lambda: _store_state(api, job_id) == State.FINISHED)
        job = api.request("GET", f"/jobs/{job_id}").body
        assert job["InstanceMetrics"]["FinishedCount"] == 2
        assert any("records again" in r.getMessage() for r in caplog.records)
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        gate.set()
        api.stack.close()
