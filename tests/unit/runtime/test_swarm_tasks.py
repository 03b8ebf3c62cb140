"""What a Swarm task's state means for an attempt: waiting (with Swarm's reason), running,
exited, rejected, or lost with its node."""

from __future__ import annotations

from typing import Any

import pytest

from localbatch.runtime.swarm_tasks import Phase, judge, latest_task


def task(state: str, *, err: str = "", exit_code: int | None = None, node: str = "n1") -> Any:
    status: dict[str, Any] = {"State": state, "Message": state}
    if err:
        status["Err"] = err
    if exit_code is not None:
        status["ContainerStatus"] = {"ContainerID": "c1", "ExitCode": exit_code}
    return {"ID": "t1", "NodeID": node, "Status": status, "CreatedAt": "2026-01-01T00:00:00Z"}


def node(state: str = "ready", availability: str = "active", name: str = "worker-1") -> Any:
    return {
        "ID": "n1",
        "Description": {"Hostname": name},
        "Spec": {"Availability": availability},
        "Status": {"State": state, "Addr": "10.0.0.7"},
    }


def test_no_task_yet_is_waiting_with_nothing_to_say() -> None:
    assert judge(None, None).phase is Phase.WAITING
    assert judge(None, None).reason == ""


def test_pending_says_why_in_swarms_words() -> None:
    reason = "no suitable node (insufficient resources on 1 node)"
    looked = judge(task("pending", err=reason, node=""), None)
    assert (looked.phase, looked.reason) == (Phase.WAITING, reason)


@pytest.mark.parametrize("state", ["assigned", "accepted", "preparing", "starting"])
def test_being_prepared_is_waiting_without_a_reason(state: str) -> None:
    looked = judge(task(state), node())
    assert (looked.phase, looked.reason) == (Phase.WAITING, "")


def test_running_names_its_node() -> None:
    looked = judge(task("running", exit_code=0), node())
    assert looked.phase is Phase.RUNNING
    assert (looked.node_name, looked.node_address, looked.task_id) == ("worker-1", "10.0.0.7", "t1")


def test_the_programs_exit_code_is_the_outcome() -> None:
    assert judge(task("complete", exit_code=0), node()).exit_code == 0
    failed = judge(task("failed", err="task: non-zero exit (3)", exit_code=3), node())
    assert (failed.phase, failed.exit_code) == (Phase.EXITED, 3)


def test_a_node_that_cannot_start_it_rejects_it() -> None:
    err = 'invalid mount config for type "bind": bind source path does not exist: /srv/x'
    looked = judge(task("rejected", err=err), node())
    assert looked.phase is Phase.REJECTED
    assert "worker-1" in looked.reason and "/srv/x" in looked.reason
    start = judge(task("failed", err="starting container failed: no such file"), node())
    assert start.phase is Phase.REJECTED


def test_a_drained_node_loses_the_attempt() -> None:
    looked = judge(task("shutdown", exit_code=143), node(availability="drain"))
    assert (looked.phase, looked.exit_code) == (Phase.LOST, 143)
    assert "worker-1 was drained" in looked.reason


@pytest.mark.parametrize("state", ["running", "starting"])
def test_a_node_that_went_down_loses_the_attempt_at_once(state: str) -> None:
    looked = judge(task(state, exit_code=0), node(state="down"))
    assert looked.phase is Phase.LOST
    assert "worker-1 went down" in looked.reason


def test_an_orphaned_task_is_lost() -> None:
    assert judge(task("orphaned"), node()).phase is Phase.LOST


def test_the_latest_task_speaks_for_the_service() -> None:
    old, new = task("shutdown"), task("running")
    new["CreatedAt"] = "2026-01-02T00:00:00Z"
    assert latest_task([new, old]) is new
    assert latest_task([]) is None
