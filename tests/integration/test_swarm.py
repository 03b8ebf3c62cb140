"""`localbatch run --runtime swarm` on a single-node swarm: what differs from the Docker
runtime (capacity from the nodes, refusals before anything starts, instances waiting for a
node with Swarm's reason). The same jobs as on Docker run in test_run_jobs.py."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from pathlib import Path
from typing import Any

import docker.errors
import docker.types
import pytest

from localbatch.config import DEFAULT_DOCKER_IMAGE
from localbatch.store import Store
from tests.integration.test_run_jobs import Runner, _job, _task

pytestmark = pytest.mark.swarm


@pytest.fixture
def runner(swarm_manager: Any, tmp_path: Path) -> Runner:
    return Runner("swarm", tmp_path)


def _services_of(client: Any, job_id: str) -> list[Any]:
    return list(client.services.list(filters={"label": f"localbatch.job={job_id}"}))


def test_a_type_no_node_holds_is_refused_before_anything_starts(
    runner: Runner, swarm_manager: Any
) -> None:
    body = _job(
        {
            "big": _task(
                "true", AutoCluster={"ImageId": "img-ubuntu", "InstanceType": "bcs.b4.5xlarge"}
            )
        }
    )
    done = subprocess.run(
        runner.command(body), capture_output=True, text=True, timeout=120, env=runner.env()
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "bcs.b4.5xlarge (24 cores, 96 GiB) is larger than every node" in done.stderr
    store = Store.open(runner.state_dir)
    try:
        assert store.job_count() == 0  # not kept
    finally:
        store.close()
    assert "Waiting" not in done.stdout  # nothing was announced, nothing started


def test_plan_shows_the_swarms_nodes(runner: Runner, swarm_manager: Any) -> None:
    command = runner.command(_job({"t": _task("true")}))
    command[command.index("run")] = "plan"
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=runner.env())
    assert done.returncode == 0, done.stderr
    hostname = swarm_manager.info()["Name"]
    assert f"capacity: swarm of 1 node ({hostname}: " in done.stdout


def test_an_instance_waits_for_capacity_with_swarms_reason_then_runs(
    runner: Runner, swarm_manager: Any
) -> None:
    """Another service holds most of the node's cores: Swarm cannot place the instance, which
    waits, saying why, until the cores are free again."""
    node = swarm_manager.api.nodes()[0]
    cores = int(node["Description"]["Resources"]["NanoCPUs"])
    holder = swarm_manager.api.create_service(
        docker.types.TaskTemplate(
            docker.types.ContainerSpec(_image_id(swarm_manager), ["sleep", "600"], init=True),
            resources=docker.types.Resources(cpu_reservation=cores - 1_500_000_000),
        ),
        name=f"lb-test-holder-{uuid.uuid4().hex[:6]}",
    )["ID"]
    try:
        process = runner.start(_job({"t": _task("echo ran")}))
        waiting = runner.read_until(process, "waiting for capacity")
        assert "instance t.0 waiting for capacity (no suitable node (insufficient resources" in (
            waiting
        )
        swarm_manager.api.remove_service(holder)
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stdout + stderr
        assert "instance t.0 Finished exit 0" in stdout
    finally:
        with contextlib.suppress(docker.errors.NotFound):  # removed unless the test failed
            swarm_manager.api.remove_service(holder)


def test_an_image_only_this_manager_has_runs_by_its_id(runner: Runner, swarm_manager: Any) -> None:
    """A local image has no registry digest: its service names it by id (which a node that
    loaded the same image has too), so that no node contacts a registry for it."""
    process = runner.start(_job({"t": _task("sleep 2")}))
    try:
        runner.read_until(process, "instance t.0 Running")
        job_id = runner.unfinished_job()
        (service,) = _services_of(swarm_manager, job_id)
        image = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        assert image == _image_id(swarm_manager)
    finally:
        process.communicate(timeout=120)
    assert process.returncode == 0


def _image_id(client: Any) -> str:
    return str(client.images.get(DEFAULT_DOCKER_IMAGE).id)
