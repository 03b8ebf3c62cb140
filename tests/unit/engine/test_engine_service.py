"""The engine driver on the fake runtime: lifecycle, failure rules, storage errors, stop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from localbatch.engine.capacity import HostCapacity
from localbatch.engine.service import UnknownJob
from localbatch.runtime.fake import FakeStep
from localbatch.spec.model import Job
from localbatch.states import State, StateConflict

JobFactory = Callable[..., Job]
TaskFactory = Callable[..., dict[str, Any]]


def test_dag_runs_in_order_and_finishes(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    job = job_factory(
        {
            "split": task_factory(),
            "c1": task_factory(InstanceCount=2),
            "c2": task_factory(),
            "merge": task_factory(),
        },
        {"split": ["c1", "c2"], "c1": ["merge"], "c2": ["merge"]},
    )
    harness.engine.submit("job-1", job)
    assert harness.engine.wait("job-1", 10) == State.FINISHED
    order = [(s.task_name, s.instance_id) for s in harness.runtime.started]
    assert order[0] == ("split", 0) and order[-1] == ("merge", 0)
    assert sorted(order[1:4]) == [("c1", 0), ("c1", 1), ("c2", 0)]
    names = harness.log.names("Job")
    assert names == ["OnJobWaiting", "OnJobRunning", "OnJobFinished"]
    assert harness.storage.closed == 1


def test_instances_see_the_service_environment(
    harness_factory: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    h = harness_factory(oss_host="127.0.0.1:9000")
    job = job_factory(
        {
            "count": task_factory(
                "python3 count.py --flag 'two words'",
                InstanceCount=3,
                Parameters={
                    "Command": {
                        "CommandLine": "python3 count.py --flag 'two words'",
                        "EnvVars": {"MY_VAR": "x", "PATH": "/usr/local/bin:/usr/bin:/bin"},
                    }
                },
            )
        }
    )
    h.engine.submit("job-1", job)
    assert h.engine.wait("job-1", 10) == State.FINISHED
    specs = sorted(h.runtime.started, key=lambda s: s.instance_id)
    assert [s.env["BATCH_COMPUTE_DAG_INSTANCE_ID"] for s in specs] == ["0", "1", "2"]
    env = specs[0].env
    assert env["BATCH_COMPUTE_DAG_JOB_ID"] == "job-1"
    assert env["BATCH_COMPUTE_DAG_TASK_ID"] == "count"
    assert env["BATCH_COMPUTE_OSS_HOST"] == "127.0.0.1:9000"
    assert env["MY_VAR"] == "x" and env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == "/root" and env["PWD"] == "/batchcompute/workdir"
    assert specs[0].argv == ("python3", "count.py", "--flag", "two words")
    assert specs[0].labels["localbatch.task"] == "count"
    assert specs[0].memory_bytes == 4 * 1024**3


def test_retries_after_failures_and_timeouts(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness.runtime.script("a", FakeStep(exit_code=2), attempt=0)
    harness.runtime.script("a", FakeStep(None, "Timeout", "too slow"), attempt=1)
    harness.engine.submit("job-1", job_factory({"a": task_factory(MaxRetryCount=2)}))
    assert harness.engine.wait("job-1", 10) == State.FINISHED
    inst = harness.engine.snapshot("job-1").tasks[0].instances[0]
    assert inst.retry_count == 2
    assert [(a.exit_code, a.error_code) for a in inst.attempts] == [
        (2, ""),
        (None, "Timeout"),
        (0, ""),
    ]
    assert all(a.start_time is not None and a.end_time is not None for a in inst.attempts)


def test_real_timeout_kills_the_attempt_and_fails_it(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness.runtime.script("a", FakeStep(hang=True))
    harness.engine.submit("job-1", job_factory({"a": task_factory(Timeout=1)}))
    assert harness.engine.wait("job-1", 30) == State.FAILED
    inst = harness.engine.snapshot("job-1").tasks[0].instances[0]
    assert inst.state == State.FAILED and inst.error_code == "Timeout"
    assert harness.runtime.stopped  # the attempt was stopped, not abandoned


def test_job_fails_and_stops_the_rest_when_an_instance_fails(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    gate = threading.Event()
    harness.runtime.script("slow", FakeStep(hang=True))
    harness.runtime.script("bad", FakeStep(exit_code=1, gate=gate))
    harness.engine.submit(
        "job-1",
        job_factory(
            {"slow": task_factory(), "bad": task_factory(), "later": task_factory()},
            {"bad": ["later"]},
        ),
    )
    assert harness.runtime.wait_running(2)
    gate.set()
    assert harness.engine.wait("job-1", 30) == State.FAILED
    snap = harness.engine.snapshot("job-1")
    states = {t.name: t.state for t in snap.tasks}
    assert states == {"slow": State.STOPPED, "bad": State.FAILED, "later": State.STOPPED}
    assert not harness.runtime.running


def test_job_finishes_with_failures_counted_when_tolerated(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness.runtime.script("a", FakeStep(exit_code=1), instance=1)
    job = job_factory(
        {"a": task_factory(InstanceCount=3), "b": task_factory()},
        {"a": ["b"]},
        JobFailOnInstanceFail=False,
    )
    harness.engine.submit("job-1", job)
    assert harness.engine.wait("job-1", 10) == State.FINISHED
    snap = harness.engine.snapshot("job-1")
    assert snap.tasks[0].state == State.FINISHED and snap.tasks[0].metrics.failed == 1
    assert snap.tasks[1].state == State.FINISHED
    assert snap.instance_metrics.failed == 1 and snap.instance_metrics.finished == 3


def test_package_error_fails_the_attempt_with_its_code(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness.fail_prepare(("a", 0, 0), "PackageError", "not a tar.gz")
    harness.engine.submit("job-1", job_factory({"a": task_factory()}))
    assert harness.engine.wait("job-1", 10) == State.FAILED
    inst = harness.engine.snapshot("job-1").tasks[0].instances[0]
    assert (inst.error_code, inst.error_message) == ("PackageError", "not a tar.gz")
    assert harness.runtime.started == []


def test_output_upload_failure_fails_a_successful_attempt(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness.fail_finish(("a", 0, 0), "OutputUploadFailed", "disk full")
    harness.engine.submit("job-1", job_factory({"a": task_factory(MaxRetryCount=1)}))
    assert harness.engine.wait("job-1", 10) == State.FINISHED
    inst = harness.engine.snapshot("job-1").tasks[0].instances[0]
    assert [a.error_code for a in inst.attempts] == ["OutputUploadFailed", ""]
    assert [f[:3] for f in harness.storage.finished] == [("a", 0, 0), ("a", 0, 1)]


def test_start_failure_is_recorded(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness.runtime.script("a", FakeStep(None, "ImageNotFound", "no image x", fails_to_start=True))
    harness.engine.submit("job-1", job_factory({"a": task_factory()}))
    assert harness.engine.wait("job-1", 10) == State.FAILED
    assert harness.engine.snapshot("job-1").tasks[0].instances[0].error_code == "ImageNotFound"
    assert harness.storage.finished == [("a", 0, 0, False)]


def test_unsplittable_command_line_fails_visibly(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness.engine.submit("job-1", job_factory({"a": task_factory("python3 'unclosed")}))
    assert harness.engine.wait("job-1", 10) == State.FAILED
    inst = harness.engine.snapshot("job-1").tasks[0].instances[0]
    assert inst.error_code == "InvalidCommandLine" and "quotation" in inst.error_message


def test_stop_ends_the_job_stopped(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness.runtime.script("a", FakeStep(hang=True))
    harness.engine.submit("job-1", job_factory({"a": task_factory(InstanceCount=2)}))
    assert harness.runtime.wait_running(2)
    harness.log.wait_for(lambda e: e.name == "OnJobRunning")
    harness.engine.stop("job-1")
    assert harness.engine.wait("job-1", 30) == State.STOPPED
    snap = harness.engine.snapshot("job-1")
    assert {i.state for i in snap.tasks[0].instances} == {State.STOPPED}
    assert len(harness.runtime.released) == 2
    with pytest.raises(StateConflict):
        harness.engine.stop("job-1")


def test_restart_keeps_finished_instances(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness.runtime.script("a", FakeStep(exit_code=1), instance=1, attempt=0)
    job = job_factory({"a": task_factory(InstanceCount=2)})
    harness.engine.submit("job-1", job)
    assert harness.engine.wait("job-1", 10) == State.FAILED
    harness.runtime.script("a", FakeStep(exit_code=0), instance=1, attempt=0)
    harness.engine.submit("job-1", job, keep_finished={"a": [0]})
    assert harness.engine.wait("job-1", 10) == State.FINISHED
    assert [(s.instance_id, s.attempt) for s in harness.runtime.started][-1] == (1, 0)
    assert len(harness.runtime.started) == 3


def test_times_come_from_the_injected_clock(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    gate = threading.Event()
    harness.runtime.script("a", FakeStep(gate=gate))
    harness.engine.submit("job-1", job_factory({"a": task_factory()}))
    harness.log.wait_for(lambda e: e.name == "OnInstanceRunning")
    harness.clock.advance(42)
    gate.set()
    assert harness.engine.wait("job-1", 10) == State.FINISHED
    snap = harness.engine.snapshot("job-1")
    assert snap.start_time == 1_000_000.0 and snap.end_time == 1_000_042.0


def test_capacity_limits_parallel_instances(
    harness_factory: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    h = harness_factory(capacity=HostCapacity.unlimited(max_parallel=2))
    h.runtime.default = FakeStep(duration=0.02)
    h.engine.submit("job-1", job_factory({"a": task_factory(InstanceCount=6)}))
    assert h.engine.wait("job-1", 10) == State.FINISHED
    assert h.runtime.max_running <= 2


def test_not_emulated_fields_and_scale_down_are_noticed(
    harness_factory: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    h = harness_factory(capacity=HostCapacity(cpu_cores=2, memory_bytes=8 * 1024**3))
    big = task_factory(
        AutoCluster={
            "ImageId": "img-ubuntu",
            "InstanceType": "bcs.b4.xlarge",
            "Configs": {"Networks": {"VPC": {"CidrBlock": "192.168.0.0/16"}}},
        }
    )
    h.engine.submit("job-1", job_factory({"big": big}))
    assert h.engine.wait("job-1", 10) == State.FINISHED
    notices = h.engine.snapshot("job-1").notices
    assert any("Networks" in n and "big" in n for n in notices)
    assert any("scaled down to 2 cores, 8 GiB" in n for n in notices)
    assert any("runtime fake: images are not used" in n for n in notices)
    assert h.runtime.started[0].cpu_cores == 2


def test_unknown_job_and_unknown_only_task(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    with pytest.raises(UnknownJob):
        harness.engine.wait("job-x")
    with pytest.raises(ValueError, match="nope"):
        harness.engine.submit("job-1", job_factory({"a": task_factory()}), only=["nope"])
    assert harness.storage.closed == 1


def test_shutdown_stops_running_jobs(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    harness.runtime.script("a", FakeStep(hang=True))
    harness.engine.submit("job-1", job_factory({"a": task_factory()}))
    assert harness.runtime.wait_running(1)
    harness.engine.shutdown(timeout=10)
    assert harness.engine.wait("job-1", 0) == State.STOPPED
    assert not harness.runtime.running


def test_a_failing_listener_does_not_break_the_engine(
    harness: Any, job_factory: JobFactory, task_factory: TaskFactory
) -> None:
    def broken(_: object) -> None:
        raise RuntimeError("listener bug")

    harness.engine.bus.subscribe(broken)
    harness.engine.submit("job-1", job_factory({"a": task_factory()}))
    assert harness.engine.wait("job-1", 10) == State.FINISHED


def test_max_parallel_caps_an_explicit_capacity(config: Any) -> None:
    from localbatch.engine.service import Engine
    from localbatch.events import EventBus
    from localbatch.runtime.fake import FakeRuntime

    engine = Engine(
        config,
        FakeRuntime(),
        EventBus(),
        max_parallel=1,
        capacity=HostCapacity.unlimited(),
        storage_factory=lambda *_: None,  # type: ignore[arg-type,return-value]
    )
    try:
        assert engine.capacity.max_parallel == 1
    finally:
        engine.shutdown(timeout=5)
