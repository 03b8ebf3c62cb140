"""`localbatch serve` logs one line per API request (unless --no-request-log) and one per
job state change, on stderr."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from localbatch.spec.errors import ApiError
from tests.integration.serve_process import ServeProcess, eventually, kill_leftovers
from tests.unit.server.server_helpers import make_body

SUCCEED = {"LOCALBATCH_FAKE_STEP": json.dumps({"exit_code": 0})}


@pytest.fixture(autouse=True)
def _no_leftover_servers() -> Iterator[None]:
    yield
    kill_leftovers()


def _run_one_job(server: ServeProcess) -> str:
    job_id: str = server.request("POST", "/jobs", make_body(instances=1))["Id"]
    with pytest.raises(ApiError):
        server.request("GET", "/jobs/job-nope")
    finished = f"job {job_id} Finished"
    eventually(lambda: any(finished in line for line in server.lines), failure=server.output)
    return job_id


def test_requests_and_job_states_are_logged(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "state", env=SUCCEED)
    job_id = _run_one_job(server)
    text = server.output()
    assert re.search(r"POST /jobs -> 201 \([\d.]+ ms, request id [0-9A-F-]+\)", text)
    assert "GET /jobs/job-nope -> 404 InvalidResource.NotFound" in text
    states = re.findall(rf"job {job_id} (\w+)", text)
    assert states == ["Waiting", "Running", "Finished"]
    assert server.terminate() == 0


def test_no_request_log_keeps_the_job_lines(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "state", env=SUCCEED, options=("--no-request-log",))
    job_id = _run_one_job(server)
    text = server.output()
    assert "POST /jobs" not in text and "-> 404" not in text
    assert f"job {job_id} Running" in text
    assert server.terminate() == 0
