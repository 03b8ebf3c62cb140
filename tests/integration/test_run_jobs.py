"""`localbatch run` on the real runtimes (process sandbox and Docker), as a user runs it.

Every test runs the command in a subprocess with its own state dir and OSS root, then
reads what the service would show: the exit status, the job store and the log objects.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localbatch.store import Store

BUCKET = "itest"


def _task(script: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "InstanceCount": 1,
        "MaxRetryCount": 0,
        "Timeout": 120,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
        "Parameters": {
            "Command": {"CommandLine": f"sh -c '{script}'", "PackagePath": ""},
            "StdoutRedirectPath": f"oss://{BUCKET}/logs/",
            "StderrRedirectPath": f"oss://{BUCKET}/logs/",
        },
    }
    body.update(fields)
    return body


def _job(tasks: dict[str, Any], deps: dict[str, list[str]] | None = None, **fields: Any) -> Any:
    body = {"Name": "it-job", "Type": "DAG", "DAG": {"Tasks": tasks, "Dependencies": deps or {}}}
    body.update(fields)
    return body


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str
    job_id: str
    state_dir: Path
    oss_root: Path

    def instance(self, task: str, instance_id: int = 0) -> Any:
        store = Store.open(self.state_dir)
        try:
            return store.get_instance(self.job_id, task, instance_id)
        finally:
            store.close()

    def task_state(self, task: str) -> str:
        store = Store.open(self.state_dir)
        try:
            record = store.get_task(self.job_id, task)
            assert record is not None
            return str(record.state)
        finally:
            store.close()

    def attempts(self, task: str, instance_id: int = 0) -> list[tuple[str, int | None, str]]:
        """(state, exit code, error code) of each attempt in the store, after checking that
        each is closed with its own times: it ended after it started, once the one before
        ended."""
        store = Store.open(self.state_dir)
        try:
            rows = store.attempts(self.job_id, task, instance_id)
        finally:
            store.close()
        previous_end = 0.0
        for row in rows:
            assert row.start_time is not None and row.end_time is not None, row
            assert previous_end <= row.start_time <= row.end_time, row
            previous_end = row.end_time
        return [(str(row.state), row.exit_code, row.error_code) for row in rows]

    def stdout_of(self, task: str, instance_id: int = 0) -> str:
        path = self.oss_root / BUCKET / "logs" / f"stdout.{self.job_id}.{task}.{instance_id}"
        return path.read_text()


class Runner:
    """Starts `localbatch run` for one runtime, with a private state dir and OSS root."""

    def __init__(self, runtime: str, tmp_path: Path) -> None:
        self.runtime = runtime
        self.tmp = tmp_path
        self.state_dir = tmp_path / "state"
        self.oss_root = tmp_path / "oss"
        (self.oss_root / BUCKET).mkdir(parents=True, exist_ok=True)

    def command(self, body: dict[str, Any], *extra: str) -> list[str]:
        path = self.tmp / "job.json"
        path.write_text(json.dumps(body))
        return [
            sys.executable, "-m", "localbatch", "run", str(path), "--runtime", self.runtime,
            "--state-dir", str(self.state_dir), "--oss-root", str(self.oss_root), *extra,
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        return {**os.environ, "LOCALBATCH_CONFIG": str(self.tmp / "none.toml")}

    def run(self, body: dict[str, Any], *extra: str, timeout: float = 240) -> Ran:
        done = subprocess.run(
            self.command(body, *extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
        )
        return self.ran(done.returncode, done.stdout, done.stderr)

    def start(self, body: dict[str, Any]) -> subprocess.Popen[str]:
        """`localbatch run` in the background; its plain progress is read with `read_until`."""
        return subprocess.Popen(
            self.command(body),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )

    @staticmethod
    def read_until(process: subprocess.Popen[str], text: str) -> str:
        """The first progress line holding `text` (the test fails if the run ends first)."""
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            if text in line:
                return line
            seen.append(line)
        _, stderr = process.communicate()
        pytest.fail(f"the run ended before {text!r}:\n{''.join(seen)}{stderr}")

    def unfinished_job(self) -> str:
        """The id of the job the running `localbatch run` recorded."""
        store = Store.open(self.state_dir)
        try:
            (job,) = store.unfinished_jobs()
            return job.id
        finally:
            store.close()

    def ran(self, code: int, stdout: str, stderr: str) -> Ran:
        found = re.search(r"job (job-[0-9A-F]{32})", stderr + stdout)
        assert found, f"no job id in output:\n{stdout}\n{stderr}"
        return Ran(code, stdout, stderr, found.group(1), self.state_dir, self.oss_root)


@pytest.fixture(
    params=[
        pytest.param("process", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("swarm", marks=pytest.mark.swarm),
    ]
)
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Runner:
    return prepared_runner(request, tmp_path)


def prepared_runner(request: pytest.FixtureRequest, tmp_path: Path) -> Runner:
    """A Runner for the runtime `request.param`, once what it needs is there."""
    if request.param == "docker":
        request.getfixturevalue("docker_client")
        request.getfixturevalue("default_image")
    elif request.param == "swarm":
        request.getfixturevalue("swarm_manager")
    else:
        request.getfixturevalue("default_rootfs")
    return Runner(request.param, tmp_path)


def test_dag_order_instance_env_retries_and_tolerated_failure(runner: Runner) -> None:
    show = "echo id=$BATCH_COMPUTE_DAG_INSTANCE_ID task=$BATCH_COMPUTE_DAG_TASK_ID pwd=$(pwd)"
    flaky = "if [ -e /mnt/state/tried ]; then echo second; else touch /mnt/state/tried; exit 7; fi"
    tasks = {
        "split": _task(show),
        "c1": _task(show, InstanceCount=3),
        "c2": _task(show),
        "merge": _task(show + "; echo path=$PATH home=$HOME user=$USER"),
        "flaky": _task(
            flaky,
            MaxRetryCount=1,
            Mounts={
                "Entries": [
                    {
                        "Source": f"oss://{BUCKET}/state/",
                        "Destination": "/mnt/state/",
                        "WriteSupport": True,
                    }
                ]
            },
        ),
        "broken": _task("exit 5"),
    }
    deps = {"split": ["c1", "c2"], "c1": ["merge"], "c2": ["merge"]}
    ran = runner.run(_job(tasks, deps, JobFailOnInstanceFail=False))
    assert ran.code == 0, ran.stdout + ran.stderr

    split, merge = ran.instance("split"), ran.instance("merge")
    middle = [ran.instance("c1", i) for i in range(3)] + [ran.instance("c2")]
    assert all(split.end_time <= m.start_time for m in middle)
    assert all(m.end_time <= merge.start_time for m in middle)
    for i in range(3):
        assert ran.stdout_of("c1", i).strip() == f"id={i} task=c1 pwd=/batchcompute/workdir"
    assert "path=/sbin:/usr/sbin:/bin:/usr/bin home=/root user=root" in ran.stdout_of("merge")

    flaky_record = ran.instance("flaky")
    assert flaky_record.state == "Finished" and flaky_record.retry_count == 1
    assert [a["exit_code"] for a in flaky_record.detail["attempts"]] == [7, 0]
    assert ran.attempts("flaky") == [("Failed", 7, ""), ("Finished", 0, "")]
    assert ran.task_state("broken") == "Finished"
    assert ran.instance("broken").state == "Failed" and ran.instance("broken").exit_code == 5


def test_an_instance_failure_stops_the_rest_and_fails_the_job(runner: Runner) -> None:
    # `slow` outlasts its Timeout (120 s): only the job's failure can end it as Stopped.
    tasks = {"bad": _task("exit 3"), "slow": _task("sleep 600"), "later": _task("true")}
    ran = runner.run(_job(tasks, {"bad": ["later"]}, JobFailOnInstanceFail=True))
    assert ran.code == 3, ran.stdout + ran.stderr
    assert ran.task_state("bad") == "Failed"
    assert ran.task_state("later") == "Stopped"
    assert ran.instance("slow").state == "Stopped"
    assert ran.attempts("bad") == [("Failed", 3, "")]
    # (On a small host `slow` waits for `bad`'s cores and never starts: no attempt then.)
    assert {(state, code) for state, _, code in ran.attempts("slow")} <= {("Stopped", "Stopped")}
    assert "bad.0 Failed: exit code 3" in ran.stdout


def test_timeout_kills_the_attempt_and_is_retried(runner: Runner) -> None:
    ran = runner.run(_job({"t": _task("sleep 60", Timeout=1, MaxRetryCount=1)}))
    assert ran.code == 3
    record = ran.instance("t")
    assert record.state == "Failed" and record.error_code == "Timeout"
    assert [a["error_code"] for a in record.detail["attempts"]] == ["Timeout", "Timeout"]
    assert [(state, code) for state, _, code in ran.attempts("t")] == [("Failed", "Timeout")] * 2


def test_a_bad_package_fails_with_package_error(runner: Runner) -> None:
    (runner.oss_root / BUCKET / "pkg").mkdir(parents=True)
    (runner.oss_root / BUCKET / "pkg" / "worker.tar.gz").write_bytes(b"not a tarball")
    task = _task("true")
    task["Parameters"]["Command"]["PackagePath"] = f"oss://{BUCKET}/pkg/worker.tar.gz"
    ran = runner.run(_job({"t": task}))
    assert ran.code == 3
    assert ran.instance("t").error_code == "PackageError"
    assert "PackageError" in ran.stdout


def test_ctrl_c_stops_the_job_and_leaves_nothing_running(runner: Runner) -> None:
    # A duration no other process on the machine uses, so the check below sees only ours.
    sleeper = f"sleep 120.{uuid.uuid4().int % 10**6:06d}"
    body = _job({"t": _task(sleeper, InstanceCount=2)})
    process = subprocess.Popen(
        runner.command(body),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=runner.env(),
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert process.stdout is not None
    for line in process.stdout:  # plain progress: one line per event
        if "instance t.1 Running" in line or "instance t.0 Running" in line:
            break
    else:
        pytest.fail(f"the run ended before an instance ran:\n{process.communicate()[1]}")
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
    stdout, stderr = process.communicate(timeout=60)
    ran = runner.ran(process.returncode, stdout, stderr)
    assert ran.code == 130, stdout + stderr
    store = Store.open(runner.state_dir)
    try:
        job = store.get_job(ran.job_id)
        assert job is not None and job.state == "Stopped"
    finally:
        store.close()
    stopped = ran.attempts("t", 0) + ran.attempts("t", 1)
    assert stopped and {(state, code) for state, _, code in stopped} == {("Stopped", "Stopped")}
    if runner.runtime in ("docker", "swarm"):
        import docker

        client = docker.from_env()
        label = {"label": f"localbatch.job={ran.job_id}"}
        try:
            if runner.runtime == "swarm":  # its services are gone; their containers follow
                assert client.services.list(filters=label) == []
                _until(lambda: not client.containers.list(all=True, filters=label))
            assert client.containers.list(all=True, filters=label) == []
        finally:
            client.close()
    else:
        assert not _sleepers(sleeper)


def _until(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Wait for what a node does after a service is removed (its container's removal)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)


def _sleepers(command: str) -> list[int]:
    import psutil

    return [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if " ".join(p.info["cmdline"] or ()) == command
    ]


@pytest.mark.docker
def test_a_missing_image_is_a_clear_error(
    tmp_path: Path, docker_client: Any, default_image: str
) -> None:
    task = _task("true")
    task["Parameters"]["Command"]["Docker"] = {"Image": "localbatch/does-not-exist:0"}
    # Without the checks before the run (which find it first): as the service does.
    ran = Runner("docker", tmp_path).run(_job({"t": task}), "--no-preflight")
    assert ran.code == 3
    record = ran.instance("t")
    assert record.error_code == "ImageNotFound"
    assert "localbatch/does-not-exist:0" in record.error_message


@pytest.mark.docker
def test_out_of_memory_is_reported(tmp_path: Path, docker_client: Any, default_image: str) -> None:
    hog = 'python3 -c "b = bytearray(6 * 1024**3)"'
    task = _task("true")
    task["Parameters"]["Command"]["CommandLine"] = hog
    ran = Runner("docker", tmp_path).run(_job({"t": task}))
    assert ran.code == 3
    assert ran.instance("t").error_code == "OutOfMemory"
