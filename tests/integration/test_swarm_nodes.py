"""The swarm runtime across two nodes (a second dockerd on this machine, `second_node.py`):
instances placed on both, a node drained mid-run (its attempt retried on the other), and a
node that does not see the state directory named before anything starts."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localbatch.config import DEFAULT_DOCKER_IMAGE
from localbatch.store import Store
from tests.conftest import _missing
from tests.integration.second_node import NodeUnavailable, SecondNode
from tests.integration.test_run_jobs import BUCKET, Runner, _job, _task

pytestmark = pytest.mark.swarm


@pytest.fixture(scope="module")
def second_node(swarm_manager: Any) -> Iterator[SecondNode]:
    node = SecondNode(swarm_manager, DEFAULT_DOCKER_IMAGE)
    try:
        node.start()
    except NodeUnavailable as exc:
        _missing("LOCALBATCH_REQUIRE_SWARM", f"no second swarm node can run here: {exc}")
    yield node
    node.stop()


@pytest.fixture
def runner(second_node: SecondNode, tmp_path: Path) -> Runner:
    return Runner("swarm", tmp_path)


def test_instances_run_on_both_nodes(runner: Runner, second_node: SecondNode) -> None:
    # Each node has this machine's cores; a 2-core type fits once on each: two at once.
    ran = runner.run(_job({"t": _task("sleep 2; hostname", InstanceCount=2)}))
    assert ran.code == 0, ran.stdout + ran.stderr
    placed = {ran.instance("t", i).detail["node"] for i in range(2)}
    assert placed == {second_node.manager.info()["Name"], second_node.hostname}
    first, second = ran.instance("t", 0), ran.instance("t", 1)
    assert first.start_time < second.end_time and second.start_time < first.end_time


def test_a_drained_nodes_attempt_is_retried_on_the_other(
    runner: Runner, second_node: SecondNode
) -> None:
    # The first attempt runs until its node is drained; the retry sees it tried and ends.
    again = "if [ -e /mnt/state/tried ]; then echo again; else touch /mnt/state/tried; sleep 60; fi"
    mount = {"Source": f"oss://{BUCKET}/state/", "Destination": "/mnt/state/", "WriteSupport": True}
    body = _job({"t": _task(again, MaxRetryCount=1, Mounts={"Entries": [mount]})})
    process = runner.start(body)
    drained = ""
    try:
        runner.read_until(process, "instance t.0 Running")
        store = Store.open(runner.state_dir)
        try:
            instance = store.get_instance(runner.unfinished_job(), "t", 0)
        finally:
            store.close()
        assert instance is not None
        drained = str(instance.detail["node"])
        second_node.availability(drained, "drain")
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if drained:
            second_node.availability(drained, "active")
        if process.poll() is None:
            process.kill()
    ran = runner.ran(process.returncode, stdout, stderr)
    assert ran.code == 0, stdout + stderr
    record = ran.instance("t")
    assert [a["error_code"] for a in record.detail["attempts"]] == ["NodeLost", ""]
    assert f"node {drained} was drained" in record.detail["attempts"][0]["error_message"]
    assert record.detail["node"] != drained  # the retry ran on the other node


def test_a_node_that_does_not_see_the_state_dir_is_named(
    second_node: SecondNode, tmp_path: Path
) -> None:
    """The state directory is one the second node does not have (it sees an empty tmpfs
    there): the probe names it, and nothing runs."""
    hidden = second_node.hidden / tmp_path.name
    runner = Runner("swarm", hidden)
    done = subprocess.run(
        runner.command(_job({"t": _task("true")})),
        capture_output=True,
        text=True,
        timeout=180,
        env=runner.env(),
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"node {second_node.hostname} has no directory {hidden}" in done.stderr
    assert f"node {second_node.manager.info()['Name']} " not in done.stderr  # it sees them
