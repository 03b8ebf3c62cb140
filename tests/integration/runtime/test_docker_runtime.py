"""Docker specifics: sizing, labels, container lifetime, images, orphans and reattach."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from localbatch.runtime.base import AttemptHandle
from localbatch.runtime.docker import (
    KEPT_PREFIX,
    LABEL_ATTEMPT,
    LABEL_INSTANCE,
    LABEL_JOB,
    LABEL_OWNER_PID,
    LABEL_TASK,
    DockerHandle,
    DockerRuntime,
)
from tests.unit.runtime.specs import dead_pid

from .conftest import SERVICE_ENV, Harness, session_docker_runtime

pytestmark = pytest.mark.docker


@pytest.fixture
def docker_harness(docker_runtime: DockerRuntime, default_image: str, tmp_path: Path) -> Harness:
    (tmp_path / "workdir").mkdir()
    return Harness(docker_runtime, default_image, tmp_path)


def _exists(client: Any, ref: str) -> bool:
    try:
        client.api.inspect_container(ref)
    except docker.errors.NotFound:
        return False
    return True


def test_container_is_sized_labelled_and_removed(
    docker_harness: Harness, docker_client: Any
) -> None:
    seen: dict[str, Any] = {}

    def started(handle: AttemptHandle) -> None:
        seen["ref"] = handle.ref
        seen["info"] = docker_client.api.inspect_container(handle.ref)

    spec = docker_harness.spec(
        "true", cpu_cores=1.5, memory_bytes=300 * 2**20, labels={"extra": "yes"}
    )
    assert docker_harness.run(spec, on_started=started).succeeded
    host = seen["info"]["HostConfig"]
    assert host["NanoCpus"] == 1_500_000_000
    assert host["Memory"] == host["MemorySwap"] == 300 * 2**20
    assert host["NetworkMode"] == "bridge"
    labels = seen["info"]["Config"]["Labels"]
    assert labels[LABEL_JOB] == "job-runtime-test"
    assert labels[LABEL_TASK] == "task"
    assert labels[LABEL_INSTANCE] == "0"
    assert labels[LABEL_ATTEMPT] == str(spec.attempt)
    assert labels[LABEL_OWNER_PID] == str(os.getpid())
    assert labels["extra"] == "yes"
    assert seen["info"]["Config"]["WorkingDir"] == "/batchcompute/workdir"
    assert not _exists(docker_client, seen["ref"])


def test_a_failed_container_is_kept_when_asked(docker_harness: Harness, docker_client: Any) -> None:
    refs: list[str] = []
    spec = docker_harness.spec("sh", "-c", "exit 2", keep_on_failure=True)
    outcome = docker_harness.run(spec, on_started=lambda h: refs.append(h.ref))
    assert outcome.exit_code == 2
    try:
        info = docker_client.api.inspect_container(refs[0])
        assert info["Name"].lstrip("/").startswith(KEPT_PREFIX)
        # A kept container is not an orphan: a later run leaves it alone.
        assert refs[0] not in session_docker_runtime(docker_client).cleanup_orphans()
        assert _exists(docker_client, refs[0])
    finally:
        docker_client.api.remove_container(refs[0], force=True)
    ok = docker_harness.spec("true", keep_on_failure=True)
    assert docker_harness.run(ok, on_started=lambda h: refs.append(h.ref)).succeeded
    assert not _exists(docker_client, refs[1])


def test_missing_image_says_how_to_get_it(docker_harness: Harness) -> None:
    outcome = docker_harness.run(docker_harness.spec("true", image="localbatch/absent:0"))
    assert outcome.error_code == "ImageNotFound"
    assert "localbatch/absent:0" in outcome.error_message
    assert "docker load" in outcome.error_message


def test_missing_default_image_points_to_images_build(docker_client: Any, tmp_path: Path) -> None:
    runtime = DockerRuntime(docker_client, default_image="localbatch/absent-default:0")
    (tmp_path / "workdir").mkdir()
    harness = Harness(runtime, "localbatch/absent-default:0", tmp_path)
    outcome = harness.run(harness.spec("true"))
    assert outcome.error_code == "ImageNotFound"
    assert "localbatch images build" in outcome.error_message


def test_orphans_of_dead_runs_are_removed(
    docker_runtime: DockerRuntime, docker_client: Any, default_image: str
) -> None:
    owner = dict(docker_runtime.owner_labels)
    dead = {**owner, LABEL_OWNER_PID: str(dead_pid())}
    orphan = docker_client.api.create_container(default_image, ["true"], labels=dead)["Id"]
    alive = docker_client.api.create_container(default_image, ["true"], labels=owner)["Id"]
    try:
        spared = session_docker_runtime(docker_client, spare=[orphan]).cleanup_orphans()
        assert orphan not in spared
        assert _exists(docker_client, orphan)  # spared: a restarted server adopts it
        removed = session_docker_runtime(docker_client).cleanup_orphans()
        assert orphan in removed
        assert alive not in removed
        assert not _exists(docker_client, orphan)
        assert _exists(docker_client, alive)
    finally:
        for ref in (orphan, alive):
            if _exists(docker_client, ref):
                docker_client.api.remove_container(ref, force=True)


def test_reattach_follows_a_running_container(docker_harness: Harness, docker_client: Any) -> None:
    runtime = docker_harness.runtime
    assert isinstance(runtime, DockerRuntime)
    gate = docker_harness.workdir / "go"
    script = "while [ ! -e go ]; do sleep 0.05; done; echo after; exit 5"
    started = runtime.start(docker_harness.spec("sh", "-c", script))
    assert isinstance(started, DockerHandle)
    try:
        again = DockerRuntime(docker_client).reattach(
            started.ref, docker_harness.root / "out2", docker_harness.root / "err2"
        )
        assert again is not None and again.ref == started.ref
        assert runtime.wait(again, 0) is None
        gate.touch()
        outcome = runtime.wait(again, 30)
        assert outcome is not None and outcome.exit_code == 5
        assert (docker_harness.root / "out2").read_text() == "after\n"
    finally:
        runtime.release(started, keep=False)
    assert DockerRuntime(docker_client).reattach(started.ref) is None


def test_stop_removes_what_it_started(docker_harness: Harness, docker_client: Any) -> None:
    cancel = threading.Event()
    refs: list[str] = []

    def started(handle: AttemptHandle) -> None:
        refs.append(handle.ref)
        cancel.set()

    outcome = docker_harness.run(
        docker_harness.spec("sleep", "60"), cancel=cancel, on_started=started
    )
    assert outcome.error_code == "Stopped"
    assert not _exists(docker_client, refs[0])


def test_service_environment_is_used_as_given(docker_harness: Harness) -> None:
    outcome = docker_harness.run(docker_harness.spec("sh", "-c", "echo $USER $HOME $PWD $PATH"))
    assert outcome.succeeded
    expected = " ".join(SERVICE_ENV[k] for k in ("USER", "HOME", "PWD", "PATH"))
    assert docker_harness.stdout.read_text() == expected + "\n"


def test_pull_is_tried_only_when_asked_and_its_failure_explained(
    docker_client: Any, tmp_path: Path
) -> None:
    image = "127.0.0.1:1/absent:0"  # a registry address that refuses at once
    (tmp_path / "workdir").mkdir()
    without = Harness(DockerRuntime(docker_client), image, tmp_path)
    outcome = without.run(without.spec("true"))
    assert outcome.error_code == "ImageNotFound"
    assert "never pulls" in outcome.error_message
    puller = Harness(DockerRuntime(docker_client, pull=True), image, tmp_path)
    outcome = puller.run(puller.spec("true"))
    assert outcome.error_code == "ImageNotFound"
    assert outcome.error_message.startswith(f"Pulling {image} failed")


def _record_job(state_dir: Path, job_id: str, state: str) -> None:
    """A store on `state_dir` recording `job_id` in `state` (what a dead run left)."""
    from localbatch.events import Event
    from localbatch.spec.model import parse_job
    from localbatch.states import State
    from localbatch.store import Store
    from tests.unit.server.server_helpers import make_body

    store = Store.open(state_dir)
    store.create_job(job_id, parse_job(make_body()), created=1.0, runner="999999999:1.000")
    store.on_event(Event("OnJob" + state, job_id, State(state), 2.0, "Job", start_time=2.0))
    store.close()


def test_dead_runs_containers_of_unfinished_jobs_are_kept_by_their_store(
    docker_client: Any, default_image: str, tmp_path: Path
) -> None:
    """Owner dead: removed only if the store of the container's state dir has the job ended."""
    from localbatch.runtime.docker import LABEL_STATE_DIR
    from localbatch.store.unfinished import UnfinishedJobs

    mine, other = tmp_path / "mine", tmp_path / "other"
    _record_job(mine, "job-running-here", "Running")
    _record_job(other, "job-running-there", "Running")
    _record_job(other, "job-failed-there", "Failed")
    owner = session_docker_runtime(docker_client).owner_labels
    dead = {**owner, LABEL_OWNER_PID: str(dead_pid())}
    cases = {
        ("job-running-here", str(mine.resolve())): True,
        ("job-running-here", ""): True,  # no state dir label: judged by our own store
        ("job-running-there", str(other.resolve())): True,
        ("job-failed-there", str(other.resolve())): False,
        ("job-unknown", str(mine.resolve())): False,
        ("job-unknown", ""): False,
    }
    refs = {}
    try:
        for job_id, state_dir in cases:
            labels = {**dead, LABEL_JOB: job_id}
            if state_dir:
                labels[LABEL_STATE_DIR] = state_dir
            refs[job_id, state_dir] = docker_client.api.create_container(
                default_image, ["true"], labels=labels
            )["Id"]
        runtime = session_docker_runtime(
            docker_client, keep_job=UnfinishedJobs(mine), state_dir=mine / "x" / ".."
        )
        assert runtime.owner_labels[LABEL_STATE_DIR] == str(mine.resolve())
        removed = runtime.cleanup_orphans()
        for case, kept in cases.items():
            assert _exists(docker_client, refs[case]) == kept, case
            assert (refs[case] in runtime.orphans_kept) == kept, case
            assert (refs[case] in removed) != kept, case
    finally:
        for ref in refs.values():
            if _exists(docker_client, ref):
                docker_client.api.remove_container(ref, force=True)


def test_without_a_keep_rule_dead_runs_containers_naming_a_state_dir_are_kept(
    docker_client: Any, default_image: str, tmp_path: Path
) -> None:
    """A runtime no surface gave the stores' rule (a benchmark, a tool) cannot tell whether
    a `serve` or `start` adopts a dead run's container: it keeps those naming a state dir."""
    from localbatch.runtime.docker import LABEL_STATE_DIR

    owner = session_docker_runtime(docker_client).owner_labels
    dead = {**owner, LABEL_OWNER_PID: str(dead_pid()), LABEL_JOB: "job-1"}
    named, unnamed = (
        docker_client.api.create_container(default_image, ["true"], labels=labels)["Id"]
        for labels in ({**dead, LABEL_STATE_DIR: str(tmp_path)}, dead)
    )
    try:
        runtime = session_docker_runtime(docker_client)
        removed = runtime.cleanup_orphans()
        assert named in runtime.orphans_kept and named not in removed
        assert _exists(docker_client, named)
        assert unnamed in removed and not _exists(docker_client, unnamed)
    finally:
        for ref in (named, unnamed):
            if _exists(docker_client, ref):
                docker_client.api.remove_container(ref, force=True)


def test_an_image_is_checked_before_anything_runs(
    docker_runtime: DockerRuntime, default_image: str
) -> None:
    assert docker_runtime.image_problem(default_image, SERVICE_ENV) is None
    problem = docker_runtime.image_problem("localbatch/absent:0", SERVICE_ENV)
    assert problem is not None and "localbatch/absent:0" in problem and "--pull" in problem
    pulling = session_docker_runtime(docker_runtime.client, pull=True)
    assert pulling.image_problem("localbatch/absent:0", SERVICE_ENV) is None  # --pull fetches it


def test_looking_for_programs_leaves_no_container(
    docker_runtime: DockerRuntime, docker_client: Any, default_image: str
) -> None:
    owner = {LABEL_OWNER_PID: docker_runtime.owner_labels[LABEL_OWNER_PID]}
    before = docker_client.api.containers(all=True, filters={"label": list(_labels(owner))})
    assert docker_runtime.executables(default_image, ["/bin/sh"], SERVICE_ENV) == {"/bin/sh"}
    assert docker_runtime.executables("localbatch/absent:0", ["/bin/sh"], SERVICE_ENV) is None
    after = docker_client.api.containers(all=True, filters={"label": list(_labels(owner))})
    assert after == before


def _labels(labels: dict[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in labels.items()]
