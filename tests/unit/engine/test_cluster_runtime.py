"""The engine on a cluster runtime: its capacity is the nodes', instance types keep their
size, a job no node can run is refused before anything starts, and an instance waiting for
a node says why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from localbatch.engine.capacity import Resources
from localbatch.events import CAPACITY_WAIT_EVENT
from localbatch.runtime.base import JobRefused
from localbatch.runtime.fake import FakeStep
from localbatch.spec.model import Job
from localbatch.states import State
from tests.unit.runtime.cluster_fake import GIB, ClusterFake

JobFactory = Callable[..., Job]
TaskFactory = Callable[..., dict[str, Any]]


def test_capacity_is_the_nodes_and_types_are_not_scaled(
    harness_factory: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness = harness_factory(runtime=ClusterFake())
    capacity = harness.engine.capacity
    assert (capacity.cpu_cores, capacity.memory_bytes) == (6, 12 * GIB)
    assert capacity.describe() == "cluster of 2 nodes; 6 cores, 12 GiB in all"
    job = job_factory({"t": task_factory(AutoCluster={"InstanceType": "ecs.sn1.large"})})
    harness.engine.submit("job-1", job)
    assert harness.engine.wait("job-1", 10) == State.FINISHED
    assert (harness.runtime.started[0].cpu_cores, harness.runtime.started[0].memory_bytes) == (
        4,
        8 * GIB,
    )


def test_a_type_no_node_holds_is_refused_before_anything_starts(
    harness_factory: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness = harness_factory(runtime=ClusterFake())
    job = job_factory(
        {
            "ok": task_factory(),
            "huge": task_factory(AutoCluster={"InstanceType": "bcs.b4.5xlarge"}),
        }
    )
    with pytest.raises(
        JobRefused, match=r"bcs.b4.5xlarge \(24 cores, 96 GiB\) is larger than every"
    ):
        harness.engine.submit("job-1", job)
    assert harness.runtime.started == [] and harness.log.events == []
    assert harness.runtime.checked == []  # refused before the cluster was even asked
    harness.engine.submit("job-2", job, only=["ok"])  # without that task it runs
    assert harness.engine.wait("job-2", 10) == State.FINISHED


def test_the_runtime_checks_the_jobs_files_and_images_first(
    harness_factory: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    runtime = ClusterFake()
    harness = harness_factory(runtime=runtime)
    runtime.refuse = "node b does not see /state/jobs/job-1"
    with pytest.raises(JobRefused, match="node b does not see"):
        harness.engine.submit("job-1", job_factory({"t": task_factory()}))
    assert runtime.started == [] and harness.log.events == []
    config = harness.config
    [(shared, images)] = runtime.checked
    assert shared == (config.state_dir / "jobs" / "job-1", config.oss.root)
    assert shared[0].is_dir()
    assert images == ()  # the fake runs no images


def test_no_node_at_all_is_refused(
    harness_factory: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    runtime = ClusterFake()
    harness = harness_factory(runtime=runtime)
    runtime.cluster = ()
    with pytest.raises(JobRefused, match="no node may run instances"):
        harness.engine.submit("job-1", job_factory({"t": task_factory()}))


def test_an_instance_waiting_for_a_node_says_why_then_runs(
    harness_factory: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    runtime = ClusterFake(FakeStep(exit_code=0))
    harness = harness_factory(runtime=runtime)
    runtime.hold("no suitable node (insufficient resources on 2 nodes)")
    harness.engine.submit("job-1", job_factory({"t": task_factory()}))
    harness.log.wait_for(
        lambda e: e.category == "Instance" and bool(e.detail.get("capacity_wait")), timeout=10
    )
    waiting = [e for e in harness.log.of_instance("t", 0) if e.detail.get("capacity_wait")]
    assert waiting[0].state == State.WAITING
    held = waiting[0].detail["capacity_wait"]
    assert held is not None and held["reason"].startswith("no suitable node")
    assert held["since"] == harness.clock.now()
    runtime.place()
    assert harness.engine.wait("job-1", 10) == State.FINISHED
    snapshot = harness.engine.snapshot("job-1")
    assert snapshot.tasks[0].instances[0].state == State.FINISHED
    assert waiting[0].name == CAPACITY_WAIT_EVENT
    placed = [e for e in harness.log.of_instance("t", 0) if e.state != State.WAITING]
    assert all(e.detail.get("capacity_wait") is None for e in placed)


def test_resources_of_the_nodes_bound_what_runs_at_once(
    harness_factory: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    runtime = ClusterFake(FakeStep(duration=0.2))
    harness = harness_factory(runtime=runtime)
    harness.engine.submit("job-1", job_factory({"t": task_factory(InstanceCount=5)}))
    assert harness.engine.wait("job-1", 20) == State.FINISHED
    # ecs.sn1.medium is 2 cores: the 6 cores of the two nodes hold 3 at once.
    assert runtime.max_running == 3
    assert harness.engine.capacity.nodes == (Resources(2, 4 * GIB), Resources(4, 8 * GIB))


def test_max_parallel_caps_the_services_at_once(
    harness_factory: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    runtime = ClusterFake(FakeStep(duration=0.1))
    harness = harness_factory(runtime=runtime, max_parallel=2)
    harness.engine.submit("job-1", job_factory({"t": task_factory(InstanceCount=5)}))
    assert harness.engine.wait("job-1", 20) == State.FINISHED
    assert runtime.max_running == 2  # the nodes hold 3
    assert harness.engine.capacity.describe().endswith("; at most 2 at once")
