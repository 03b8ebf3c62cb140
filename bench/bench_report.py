"""The run report's costs.

- Sampling overhead: 8 CPU-bound instances (a fixed amount of work each, two at a time)
  through `run_attempt` with resource sampling on, against the same runtime with its probe
  hidden (sampling off), in the same run, alternating rounds, the best of each counts.
  Per runtime (process, docker). Target: ratio <= 1.05. Wall time on a shared machine is
  noisy (Docker's start time varies by seconds under load), so the CPU time this process
  spent (the sampling's own cost: reading cgroup files) is reported beside it.
- A 1,000-instance report: a job of 1,000 instances (one retried in ten, one failed, each
  with measured use) run on the fake runtime; the time to build and write its HTML, the
  file's size, and the time headless chromium takes to load and render it. Targets:
  < 2 MB, < 2 s.

Run standalone: `.venv/bin/python -m bench.bench_report`.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from localbatch.config import DEFAULT_DOCKER_IMAGE, load_config
from localbatch.runtime.base import AttemptHandle, AttemptOutcome, AttemptSpec, Runtime, run_attempt
from localbatch.storage.needs import package_view

INSTANCES = 8
PARALLEL = 2
ROUNDS = 5
#: About a second of one core's work, whatever the machine's load.
WORK = "n = 0\nfor i in range(6_000_000): n += i * i\n"
ENV = {"PATH": "/sbin:/usr/sbin:/bin:/usr/bin", "HOME": "/root", "USER": "root"}
REPORT_INSTANCES = 1000


class Unprobed:
    """The same runtime with its usage probe hidden: run_attempt samples nothing."""

    def __init__(self, runtime: Runtime) -> None:
        self.inner = runtime
        self.name = runtime.name

    def check(self) -> None:
        self.inner.check()

    def start(self, spec: AttemptSpec) -> AttemptHandle | AttemptOutcome:
        return self.inner.start(spec)

    def wait(self, handle: AttemptHandle, timeout: float | None) -> AttemptOutcome | None:
        return self.inner.wait(handle, timeout)

    def stop(self, handle: AttemptHandle, grace: float) -> None:
        self.inner.stop(handle, grace)

    def release(self, handle: AttemptHandle, keep: bool) -> None:
        self.inner.release(handle, keep)


def _batch(runtime: Runtime, root: Path, image: str) -> tuple[float, float]:
    def one(index: int) -> None:
        spec = AttemptSpec(
            job_id="job-bench", task_name="cpu", instance_id=index, attempt=0,
            argv=("python3", "-c", WORK), env=ENV, needs=(package_view(root),), image=image,
            cpu_cores=1.0, memory_bytes=512 * 2**20,
            stdout_path=root / "stdout", stderr_path=root / "stderr",
        )  # fmt: skip
        outcome = run_attempt(runtime, spec, 600, threading.Event())
        if not outcome.succeeded:
            raise RuntimeError(f"attempt {index} failed: {outcome}")

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(one, range(INSTANCES)))
    return time.perf_counter() - started, time.process_time() - cpu


def sampling_overhead(runtime: Runtime, root: Path, image: str = "") -> dict[str, Any]:
    off = Unprobed(runtime)
    on_times, off_times = [], []
    for _ in range(ROUNDS):
        off_times.append(_batch(off, root, image))
        on_times.append(_batch(runtime, root, image))
    on, base = min(t for t, _ in on_times), min(t for t, _ in off_times)
    on_cpu, off_cpu = min(c for _, c in on_times), min(c for _, c in off_times)
    return {
        "instances": INSTANCES,
        "parallel": PARALLEL,
        "sampling_on_s": round(on, 2),
        "sampling_off_s": round(base, 2),
        "ratio": round(on / base, 3),
        "target_ratio": 1.05,
        "localbatch_cpu_on_s": round(on_cpu, 3),
        "localbatch_cpu_off_s": round(off_cpu, 3),
    }


def thousand_instance_report(tmp: Path) -> dict[str, Any]:
    from localbatch.application.stack import open_local_service
    from localbatch.report.writer import write_report
    from localbatch.runtime.fake import FakeRuntime, FakeStep
    from localbatch.spec.model import parse_job
    from tests.browser import chromium, chromium_paths, console_errors, open_page

    config = load_config(tmp / "none.toml", env={}, state_dir=tmp / "state", oss_root=tmp / "oss")
    runtime = FakeRuntime(FakeStep(usage={"peak_memory_bytes": 300 * 2**20, "cpu_seconds": 2.0}))
    for index in range(0, REPORT_INSTANCES, 10):
        runtime.script(
            "work", FakeStep(exit_code=1, stderr="Traceback\n"), instance=index, attempt=0
        )
    runtime.script("work", FakeStep(exit_code=2, stderr="failed for good\n"), instance=7)
    task = {
        "Parameters": {
            "Command": {"CommandLine": "python3 work.py", "PackagePath": ""},
            "StdoutRedirectPath": "oss://b/logs/", "StderrRedirectPath": "oss://b/logs/",
        },
        "InstanceCount": REPORT_INSTANCES, "MaxRetryCount": 1, "Timeout": 600,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
    }  # fmt: skip
    single = {**task, "InstanceCount": 1}
    body = {
        "Name": "thousand", "Type": "DAG", "JobFailOnInstanceFail": False,
        "DAG": {"Tasks": {"prepare": single, "work": task, "merge": single},
                "Dependencies": {"prepare": ["work"], "work": ["merge"]}},
    }  # fmt: skip
    local = open_local_service(config, runtime, oss_port=None, max_parallel=16)
    try:
        job_id = local.service.record(parse_job(body))
        local.service.submit(job_id)
        assert local.engine is not None
        local.engine.wait(job_id, 600)
        started = time.perf_counter()
        path = write_report(config, local.store, job_id, tmp / "report.html")
        generated = time.perf_counter() - started
    finally:
        local.close()
    result: dict[str, Any] = {
        "instances": REPORT_INSTANCES + 2,
        "generate_s": round(generated, 3),
        "size_bytes": path.stat().st_size,
        "target_size_bytes": 2 * 10**6,
    }
    if chromium_paths() is None:
        result["render"] = "chromium and chromium-driver are not installed"
        return result
    with chromium() as driver:
        renders = [open_page(driver, path) for _ in range(3)]
        result["render_s"] = round(min(renders), 3)
        result["console_errors"] = len(console_errors(driver))
    result["target_render_s"] = 2.0
    return result


def main() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="localbatch-bench-") as name:
        tmp = Path(name)
        for runtime_name in ("process", "docker"):
            root = tmp / runtime_name
            root.mkdir()
            try:
                if runtime_name == "process":
                    from localbatch.runtime.process import ProcessRuntime

                    process = ProcessRuntime()
                    process.check()
                    results["sampling_process"] = sampling_overhead(process, root)
                else:
                    from localbatch.runtime.docker import DockerRuntime

                    docker_runtime = DockerRuntime()
                    docker_runtime.check()
                    results["sampling_docker"] = sampling_overhead(
                        docker_runtime, root, DEFAULT_DOCKER_IMAGE
                    )
            except Exception as exc:  # one runtime missing still reports the rest
                results[f"sampling_{runtime_name}"] = {"error": f"{type(exc).__name__}: {exc}"}
        report_dir = tmp / "report"
        report_dir.mkdir()
        results["report_1000"] = thousand_instance_report(report_dir)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
