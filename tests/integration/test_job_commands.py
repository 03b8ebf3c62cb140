"""Job commands reaching a job that a foreground `localbatch run` process runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localbatch.states import State
from localbatch.store import Store
from tests.integration.serve_process import eventually
from tests.unit.server.server_helpers import make_body

pytestmark = pytest.mark.sandbox


def _localbatch(tmp_path: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "localbatch", *args, "--state-dir", str(tmp_path / "state")]
    env = {**os.environ, "LOCALBATCH_CONFIG": str(tmp_path / "none.toml")}
    return subprocess.Popen(command, env=env, text=True, **popen)  # type: ignore[call-overload]


def test_stop_reaches_a_foreground_run(tmp_path: Path, bwrap_path: str) -> None:
    body = make_body(instances=1)
    body["DAG"]["Tasks"]["split"]["Parameters"]["Command"]["CommandLine"] = "sleep 60"
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(body))
    run = _localbatch(
        tmp_path,
        "run",
        str(job_file),
        "--runtime",
        "process",
        "--oss-root",
        str(tmp_path / "oss"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        eventually(lambda: (tmp_path / "state" / "localbatch.db").exists())
        store = Store.open(tmp_path / "state")
        try:
            eventually(lambda: any(j.state == State.RUNNING for j in store.unfinished_jobs()))
            job_id = store.unfinished_jobs()[0].id
            stop = _localbatch(tmp_path, "stop", job_id, stderr=subprocess.PIPE)
            assert stop.wait(60) == 0
            assert run.wait(60) == 130
            record = store.get_job(job_id)
            assert record is not None and record.state == State.STOPPED
        finally:
            store.close()
    finally:
        if run.poll() is None:
            run.kill()
