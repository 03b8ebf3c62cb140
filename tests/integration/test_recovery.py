"""kill -9 of a server in the middle of a job, then a new server on the same state dir.

The first server's fake runtime hangs every attempt, so instances are recorded Running when
it dies. The second server finds the job orphaned: its Running instances become Failed with
error code Lost, then they are retried (MaxRetryCount 1) or fail the job (MaxRetryCount 0).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localbatch.application.runtime_choice import select_sparing_runtime
from localbatch.config import load_config
from localbatch.events.notify import events_file
from localbatch.runtime.docker import DockerRuntime
from localbatch.states import State
from localbatch.store import Store
from tests.integration.serve_process import ServeProcess, eventually, kill_leftovers
from tests.unit.server.server_helpers import make_body, record_orphan

HANG = {"LOCALBATCH_FAKE_STEP": json.dumps({"hang": True})}
SUCCEED = {"LOCALBATCH_FAKE_STEP": json.dumps({"exit_code": 0})}


@pytest.fixture(autouse=True)
def _no_leftover_servers() -> Iterator[None]:
    yield
    kill_leftovers()


def _running_instances(store: Store, job_id: str) -> int:
    record = store.get_job(job_id)
    return record.instance_counts.of(State.RUNNING) if record else 0


def _submit_and_kill(state_dir: Path, retries: int) -> tuple[str, Store, int]:
    """Answers the job id, a store on the state dir and how many instances were Running."""
    server = ServeProcess(state_dir, env=HANG)
    body = make_body(instances=2)
    body["DAG"]["Tasks"]["split"]["MaxRetryCount"] = retries
    job_id = server.request("POST", "/jobs", body)["Id"]
    store = Store.open(state_dir)
    # The host's cores bound how many ecs.sn1.medium instances run at once: at least one.
    eventually(lambda: _running_instances(store, job_id) >= 1)
    server.kill()
    record = store.get_job(job_id)
    assert record is not None and record.state == State.RUNNING  # nobody updated it
    return job_id, store, record.instance_counts.of(State.RUNNING)


def test_lost_instances_are_retried_after_kill_9(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    job_id, store, running = _submit_and_kill(state_dir, retries=1)
    events_before = len(store.events(job_id))

    second = ServeProcess(state_dir, env=SUCCEED)
    try:
        eventually(lambda: store.get_job(job_id).state == State.FINISHED)  # type: ignore[union-attr]
        job = second.request("GET", f"/jobs/{job_id}")
        assert job["State"] == "Finished"
        assert job["InstanceMetrics"]["FinishedCount"] == 3
        attempts = store.attempts(job_id, "split", 0)
        assert [(a.run, a.state, a.error_code) for a in attempts] == [
            (0, State.FAILED, "Lost"),
            (1, State.FINISHED, ""),
        ]
        assert all(a.start_time and a.end_time and a.start_time <= a.end_time for a in attempts)
        names = [e.name for e in store.events(job_id)]
        assert len(names) > events_before  # nothing recorded before the kill was lost
        lost = [e.payload for e in store.events(job_id) if e.payload.get("error_code") == "Lost"]
        assert len(lost) == running and all(p["name"] == "OnInstanceFailed" for p in lost)
        recorded = events_file(state_dir, job_id).read_text().splitlines()
        assert len(recorded) == len(names)
    finally:
        assert second.terminate() == 0
        store.close()


def test_lost_instance_without_retries_fails_the_job(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    job_id, store, _ = _submit_and_kill(state_dir, retries=0)
    second = ServeProcess(state_dir, env=SUCCEED)
    try:
        eventually(lambda: store.get_job(job_id).state.terminal)  # type: ignore[union-attr]
        job = second.request("GET", f"/jobs/{job_id}")
        assert job["State"] == "Failed" and "lost" in job["Message"]
        split = second.request("GET", f"/jobs/{job_id}/tasks/split")
        assert split["State"] == "Failed"
        merge = second.request("GET", f"/jobs/{job_id}/tasks/merge")
        assert merge["State"] == "Stopped"
        instance = second.request("GET", f"/jobs/{job_id}/tasks/split/instances/0")
        assert instance["State"] == "Failed" and instance["Result"]["ErrorCode"] == "Lost"
        # A Failed job can be started again: the lost instances run once more.
        second.request("POST", f"/jobs/{job_id}/start")
        eventually(lambda: store.get_job(job_id).state == State.FINISHED)  # type: ignore[union-attr]
    finally:
        second.terminate()
        store.close()


def test_a_server_notices_an_orphan_while_running(tmp_path: Path) -> None:
    """A job whose runner dies while a server runs is recovered by that server's periodic
    sweep (every 5 s): the job is orphaned only after the server started."""
    state_dir = tmp_path / "state"
    server = ServeProcess(state_dir, env=SUCCEED)
    store = Store.open(state_dir)
    try:
        # What a `localbatch run` killed beside the server leaves: split.0 Running, 1 retry.
        body = make_body(instances=1)
        body["DAG"]["Tasks"]["split"]["MaxRetryCount"] = 1
        record_orphan(store, body)
        eventually(lambda: store.get_job("job-1").state == State.FINISHED, timeout=30)  # type: ignore[union-attr]
        attempts = store.attempts("job-1", "split", 0)
        assert [(a.run, a.error_code) for a in attempts] == [(0, "Lost"), (1, "")]
    finally:
        server.terminate()
        store.close()


# -- real runtimes ----------------------------------------------------------------------------


def _sleeper_body(command: str, retries: int = 1) -> dict[str, Any]:
    body = make_body(instances=1)
    del body["DAG"]["Tasks"]["merge"]
    body["DAG"]["Dependencies"] = {}
    split = body["DAG"]["Tasks"]["split"]
    split["MaxRetryCount"] = retries
    split["Parameters"]["Command"]["CommandLine"] = command
    return dict(body)


def _localbatch(tmp_path: Path, *args: str) -> list[str]:
    """A localbatch command on the test's state dir and OSS root."""
    where = ["--state-dir", str(tmp_path / "state"), "--oss-root", str(tmp_path / "oss")]
    return [sys.executable, "-m", "localbatch", *args, *where]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "LOCALBATCH_CONFIG": str(tmp_path / "none.toml")}


def _run_in_background(
    tmp_path: Path, runtime: str, command: str, retries: int = 1
) -> tuple[subprocess.Popen[bytes], Store, str]:
    """`localbatch run` of a one-instance job running `command`; answers it, a store on its
    state dir and the job's id once recorded."""
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(_sleeper_body(command, retries)))
    run = subprocess.Popen(
        [*_localbatch(tmp_path, "run", str(job_file)), "--runtime", runtime],
        env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    state_dir = tmp_path / "state"
    eventually(lambda: (state_dir / "localbatch.db").exists())
    store = Store.open(state_dir)
    eventually(lambda: bool(store.unfinished_jobs()))
    return run, store, store.unfinished_jobs()[0].id


def _stdout_object(tmp_path: Path, job_id: str) -> Path:
    return tmp_path / "oss" / "bucket" / "logs" / f"stdout.{job_id}.split.0"


@pytest.mark.sandbox
def test_kill_9_of_localbatch_run_is_recovered_by_serve(
    tmp_path: Path, default_rootfs: str
) -> None:
    state_dir = tmp_path / "state"
    run, store, job_id = _run_in_background(tmp_path, "process", "sh -c 'sleep 2; echo slept'")
    try:
        eventually(lambda: _running_instances(store, job_id) == 1)
        run.send_signal(signal.SIGKILL)
        run.wait(30)

        server = ServeProcess(state_dir, runtime="process")
        try:
            eventually(lambda: store.get_job(job_id).state.terminal)  # type: ignore[union-attr]
            assert store.get_job(job_id).state == State.FINISHED  # type: ignore[union-attr]
        finally:
            server.terminate()
        attempts = store.attempts(job_id, "split", 0)
        assert [(a.run, a.state, a.error_code) for a in attempts] == [
            (0, State.FAILED, "Lost"),
            (1, State.FINISHED, ""),
        ]
        assert all(a.start_time and a.end_time and a.start_time <= a.end_time for a in attempts)
        assert _stdout_object(tmp_path, job_id).read_text() == "slept\n"
    finally:
        store.close()


@pytest.mark.docker
def test_running_container_is_adopted_after_kill_9(tmp_path: Path, default_image: str) -> None:
    state_dir = tmp_path / "state"
    first = ServeProcess(state_dir, runtime="docker")
    script = "echo before; sleep 3; echo after; echo made > /out/r.txt; echo line > /app.log"
    body = _sleeper_body(f"sh -c '{script}'", retries=0)
    body["DAG"]["Tasks"]["split"]["OutputMapping"] = {"/out/": "oss://bucket/out/"}
    body["DAG"]["Tasks"]["split"]["LogMapping"] = {"/app.log": "oss://bucket/applogs/"}
    job_id = first.request("POST", "/jobs", body)["Id"]
    store = Store.open(state_dir)
    try:
        eventually(lambda: _running_instances(store, job_id) == 1)
        first.kill()
        instance = store.get_instance(job_id, "split", 0)
        assert instance is not None
        container = instance.detail["ref"]
        # Another localbatch process (a `localbatch run`) selects Docker meanwhile: its
        # orphan clean-up must keep the container of the job the store left unfinished
        # (whatever it decides for other dead runs' containers on this host).
        config = load_config(
            tmp_path / "none.toml", env={}, state_dir=state_dir, oss_root=tmp_path / "oss"
        )
        other_run, notice = select_sparing_runtime("docker", config)
        assert isinstance(other_run, DockerRuntime), notice
        assert container in other_run.orphans_kept, notice
        assert container not in other_run.orphans_removed, notice
        second = ServeProcess(state_dir, runtime="docker")
        try:
            eventually(lambda: store.get_job(job_id).state.terminal)  # type: ignore[union-attr]
            job = second.request("GET", f"/jobs/{job_id}")
            instance = second.request("GET", f"/jobs/{job_id}/tasks/split/instances/0")
            assert job["State"] == "Finished", f"{instance['Result']}\n{''.join(second.lines)}"
        finally:
            second.terminate()
        attempts = store.attempts(job_id, "split", 0)
        assert [(a.run, a.state, a.exit_code) for a in attempts] == [(0, State.FINISHED, 0)]
        assert "after" in _stdout_object(tmp_path, job_id).read_text()
        # Finished as the dead server would have: outputs uploaded, LogMapping pushed.
        bucket = tmp_path / "oss" / "bucket"
        assert (bucket / "out" / "r.txt").read_text() == "made\n"
        assert (bucket / "applogs" / f"app.log.{job_id}.split.0").read_text() == "line\n"
    finally:
        store.close()


@pytest.mark.docker
@pytest.mark.parametrize("still_running", [True, False], ids=["running", "ended"])
def test_kill_9_of_run_then_start_collects_all_the_output(
    tmp_path: Path, docker_client: Any, default_image: str, still_running: bool
) -> None:
    """What the program wrote while no runner watched, and after, ends up in the log files
    and objects: `start` adopts the container, whether it still runs or has ended."""
    state_dir = tmp_path / "state"
    later = 8 if still_running else 0
    script = (
        "echo before; echo e-before >&2; sleep 3; echo during; echo e-during >&2;"
        f" sleep {later}; echo after; echo e-after >&2"
    )
    run, store, job_id = _run_in_background(tmp_path, "docker", f"sh -c '{script}'", retries=0)
    try:
        logs = state_dir / "jobs" / job_id / "logs"
        eventually(lambda: _running_instances(store, job_id) == 1)
        eventually(lambda: "e-before" in _text(logs / "split.0.stderr"))
        run.send_signal(signal.SIGKILL)
        run.wait(30)
        instance = store.get_instance(job_id, "split", 0)
        assert instance is not None
        container = docker_client.containers.get(instance.detail["ref"])
        written = "after" if not still_running else "during"
        eventually(lambda: written in container.logs().decode())  # nobody watches it
        if not still_running:
            eventually(lambda: container.reload() or container.status == "exited")
        start = subprocess.run(
            [*_localbatch(tmp_path, "start", job_id), "--runtime", "docker"],
            env=_env(tmp_path), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        said = start.stdout + start.stderr
        assert start.returncode == 0, said
        assert _text(logs / "split.0.stdout") == "before\nduring\nafter\n", said
        assert _text(logs / "split.0.stderr") == "e-before\ne-during\ne-after\n", said
        objects = tmp_path / "oss" / "bucket" / "logs"
        assert _text(objects / f"stdout.{job_id}.split.0") == "before\nduring\nafter\n"
        assert _text(objects / f"stderr.{job_id}.split.0") == "e-before\ne-during\ne-after\n"
        attempts = store.attempts(job_id, "split", 0)
        assert [(a.state, a.exit_code) for a in attempts] == [(State.FINISHED, 0)]
    finally:
        store.close()


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""
