"""A job run to its end on the fake runtime, with a retry, a failure and scripted resource
use, for the report's tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localbatch.application.stack import LocalService, open_local_service
from localbatch.config import Config, load_config
from localbatch.runtime.base import AttemptOutcome, AttemptSpec
from localbatch.runtime.fake import FakeHandle, FakeRuntime, FakeStep
from localbatch.spec.model import parse_job
from localbatch.states import State

GIB = 2**30
#: Hostile text a job can bring: in a name, a description, its stderr.
HOSTILE = "<script>alert(1)</script></svg><b>&amp;"


def _task(command: str, instances: int = 1, retries: int = 0) -> dict[str, Any]:
    return {
        "Parameters": {
            "Command": {"CommandLine": command, "PackagePath": "", "EnvVars": {}},
            "StdoutRedirectPath": "oss://bucket/logs/",
            "StderrRedirectPath": "oss://bucket/logs/",
        },
        "InstanceCount": instances,
        "MaxRetryCount": retries,
        "Timeout": 600,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
    }


def job_body(count_instances: int = 3) -> dict[str, Any]:
    """prepare -> count (N instances, one retried) -> merge (OOM-killed), and report
    (beside count, throttled)."""
    return {
        "Name": f"report {HOSTILE}",
        "Description": f"a job with {HOSTILE} in its description",
        "Type": "DAG",
        "JobFailOnInstanceFail": True,
        "DAG": {
            "Tasks": {
                "prepare": _task("python3 prepare.py"),
                "count": _task("python3 count.py", count_instances, retries=1),
                "summary": _task("python3 summary.py"),
                "merge": _task("python3 merge.py"),
            },
            "Dependencies": {"prepare": ["count", "summary"], "count": ["merge"]},
        },
    }


def script(runtime: FakeRuntime) -> None:
    runtime.default = FakeStep(usage={"peak_memory_bytes": 50 * 2**20, "cpu_seconds": 0.5})
    runtime.script(
        "count",
        FakeStep(exit_code=1, stderr=f"Traceback\nValueError: {HOSTILE}\n", usage={}),
        instance=1,
        attempt=0,
    )
    runtime.script(
        "count",
        FakeStep(usage={"peak_memory_bytes": int(3.5 * GIB), "cpu_seconds": 4.0}),
        instance=1,
        attempt=1,
    )
    runtime.script(
        "summary",
        FakeStep(usage={"peak_memory_bytes": 10 * 2**20, "throttled_seconds": 2.0}),
    )
    runtime.script(
        "merge",
        FakeStep(
            exit_code=137,
            error_code="OutOfMemory",
            error_message="The program used more than its memory limit of 4096 MiB.",
            stderr=f"line one\n{HOSTILE}\nKilled\n",
            usage={"oom_killed": True, "peak_memory_bytes": 4 * GIB},
        ),
    )


@dataclass
class RanJob:
    local: LocalService
    config: Config
    job_id: str


class SlowStart(FakeRuntime):
    """Starts each program `delay` seconds after it is asked to: a preparation (and the
    waits it makes others do) long enough to be told."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def start(self, spec: AttemptSpec) -> FakeHandle | AttemptOutcome:
        time.sleep(self.delay)
        return super().start(spec)


def run_job(
    tmp_path: Path,
    body: dict[str, Any],
    max_parallel: int | None = None,
    runtime: FakeRuntime | None = None,
) -> Iterator[RanJob]:
    config = load_config(
        tmp_path / "none.toml", env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss"
    )
    runtime = runtime or FakeRuntime()
    script(runtime)
    local = open_local_service(config, runtime, oss_port=None, max_parallel=max_parallel)
    try:
        job_id = local.service.record(parse_job(body))
        local.service.submit(job_id)
        assert local.engine is not None and local.engine.wait(job_id, 30) == State.FAILED
        yield RanJob(local, config, job_id)
    finally:
        local.close()


@pytest.fixture
def ran(tmp_path: Path) -> Iterator[RanJob]:
    yield from run_job(tmp_path, job_body())
