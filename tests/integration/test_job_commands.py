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
    body["DAG"]["Tasks"]["split"]["Parameters"]["Command"]["CommandLine"] = "sleep 600"
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


def test_start_without_a_server_reruns_the_unfinished_part_here(
    tmp_path: Path, bwrap_path: str
) -> None:
    body = make_body(instances=1)
    body["DAG"]["Tasks"]["split"]["Parameters"]["Command"]["CommandLine"] = "echo split"
    # merge runs until stopped the first time, and ends at once once the gate is open.
    gate = tmp_path / "oss" / "bucket" / "gate"
    gate.mkdir(parents=True)
    merge = body["DAG"]["Tasks"]["merge"]
    merge["Parameters"]["Command"]["CommandLine"] = "sh -c 'test -e /mnt/gate/go || sleep 600'"
    merge["Mounts"] = {"Entries": [{"Source": "oss://bucket/gate/", "Destination": "/mnt/gate/"}]}
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(body))
    oss = ("--oss-root", str(tmp_path / "oss"))
    run = _localbatch(
        tmp_path, "run", str(job_file), "--runtime", "process", *oss,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        eventually(lambda: (tmp_path / "state" / "localbatch.db").exists())
        store = Store.open(tmp_path / "state")
        try:
            eventually(lambda: bool(store.unfinished_jobs()))
            job_id = store.unfinished_jobs()[0].id

            def merge_running() -> bool:
                task = store.get_task(job_id, "merge")
                return task is not None and task.state == State.RUNNING

            eventually(merge_running)
            assert _localbatch(tmp_path, "stop", job_id).wait(60) == 0
            assert run.wait(60) == 130
            (gate / "go").touch()
            start = _localbatch(
                tmp_path, "start", job_id, "--runtime", "process", *oss,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            out, err = start.communicate(timeout=120)
            assert start.returncode == 0, out + err
            record = store.get_job(job_id)
            assert record is not None and record.state == State.FINISHED
            split_runs = [a.run for a in store.attempts(job_id, "split", 0)]
            merge_runs = [a.run for a in store.attempts(job_id, "merge", 0)]
            assert split_runs == [0] and merge_runs == [0, 1]
        finally:
            store.close()
    finally:
        if run.poll() is None:
            run.kill()
