"""Job commands reaching a job that a foreground `localbatch run` process runs.

The test opens the run's store only once the run has said its job id: by then the run has
created the database (two processes creating a fresh database at once can collide).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localbatch.states import State
from localbatch.store import Store
from tests.integration.serve_process import eventually
from tests.unit.server.server_helpers import make_body

pytestmark = pytest.mark.sandbox


def _localbatch(tmp_path: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "localbatch", *args, "--state-dir", str(tmp_path / "state")]
    env = {**os.environ, "LOCALBATCH_CONFIG": str(tmp_path / "none.toml"), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, env=env, text=True, **popen)  # type: ignore[call-overload]


@dataclass
class ForegroundRun:
    """`localbatch run --runtime process` of one job, its output in a file the test reads."""

    process: subprocess.Popen[str]
    output: Path

    @classmethod
    def start(cls, tmp_path: Path, body: dict[str, Any]) -> ForegroundRun:
        job_file = tmp_path / "job.json"
        job_file.write_text(json.dumps(body))
        output = tmp_path / "run.log"
        with output.open("w") as log:
            process = _localbatch(
                tmp_path, "run", str(job_file), "--runtime", "process", "--no-preflight",
                "--oss-root", str(tmp_path / "oss"), stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return cls(process, output)

    def alive(self) -> bool:
        assert self.process.poll() is None, f"run ended ({self.process.returncode}):\n{self.log}"
        return True

    @property
    def log(self) -> str:
        return self.output.read_text()

    def job_id(self) -> str:
        """The job's id once the run has stored the job."""
        eventually(lambda: self.alive() and "job job-" in self.log, failure=lambda: self.log)
        found = re.search(r"job (job-[0-9A-F]{32})", self.log)
        assert found, self.log
        return found.group(1)

    def wait_until(self, store: Store, job_id: str, task: str, state: State) -> None:
        def reached() -> bool:
            record = store.get_task(job_id, task)
            return self.alive() and record is not None and record.state == state

        eventually(reached, failure=lambda: self.log)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


def test_stop_reaches_a_foreground_run(tmp_path: Path, default_rootfs: str) -> None:
    body = make_body(instances=1)
    body["DAG"]["Tasks"]["split"]["Parameters"]["Command"]["CommandLine"] = "sleep 600"
    run = ForegroundRun.start(tmp_path, body)
    try:
        job_id = run.job_id()
        store = Store.open(tmp_path / "state")
        try:
            run.wait_until(store, job_id, "split", State.RUNNING)
            stop = _localbatch(tmp_path, "stop", job_id, stderr=subprocess.PIPE)
            assert stop.wait(60) == 0
            assert run.process.wait(60) == 130, run.log
            record = store.get_job(job_id)
            assert record is not None and record.state == State.STOPPED
        finally:
            store.close()
    finally:
        run.kill()


def test_start_without_a_server_reruns_the_unfinished_part_here(
    tmp_path: Path, default_rootfs: str
) -> None:
    body = make_body(instances=1)
    body["DAG"]["Tasks"]["split"]["Parameters"]["Command"]["CommandLine"] = "echo split"
    # merge runs until stopped the first time, and ends at once once the gate is open.
    gate = tmp_path / "oss" / "bucket" / "gate"
    gate.mkdir(parents=True)
    merge = body["DAG"]["Tasks"]["merge"]
    merge["Parameters"]["Command"]["CommandLine"] = (
        "sh -c 'if test -e /mnt/gate/go; then echo merged-on-start; else sleep 600; fi'"
    )
    merge["Mounts"] = {"Entries": [{"Source": "oss://bucket/gate/", "Destination": "/mnt/gate/"}]}
    run = ForegroundRun.start(tmp_path, body)
    try:
        job_id = run.job_id()
        store = Store.open(tmp_path / "state")
        try:
            run.wait_until(store, job_id, "merge", State.RUNNING)
            assert _localbatch(tmp_path, "stop", job_id).wait(60) == 0
            assert run.process.wait(60) == 130, run.log
            (gate / "go").touch()
            start = _localbatch(
                tmp_path, "start", "last", "--runtime", "process", "--json",
                "--oss-root", str(tmp_path / "oss"),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            out, err = start.communicate(timeout=120)
            assert start.returncode == 0, out + err
            summary = json.loads(out)  # progress and the programs' output went to stderr
            assert "merge.0 | merged-on-start" in err.splitlines(), err
            assert (summary["JobId"], summary["State"], summary["ExitStatus"]) == (
                job_id,
                "Finished",
                0,
            )
            record = store.get_job(job_id)
            assert record is not None and record.state == State.FINISHED
            split_runs = [a.run for a in store.attempts(job_id, "split", 0)]
            merge_runs = [a.run for a in store.attempts(job_id, "merge", 0)]
            assert split_runs == [0] and merge_runs == [0, 1]
        finally:
            store.close()
    finally:
        run.kill()
