"""Runtime overhead, measured at the runtime level (`run_attempt`), not through `localbatch run`.

- Docker: 24 trivial attempts (`sh -c :`) through the Docker runtime at parallelism 2,
  against a plain loop over the Engine API that creates, starts, waits for and removes the
  same containers (same image, limits, init, work directory bind, bridge network) at the
  same parallelism. Target: ratio <= 1.15.
- Process: 200 trivial attempts through the bubblewrap runtime at parallelism 2 (with the
  default instance type's memory limit and one pinned core, as localbatch applies them;
  then with the pinning only), against a plain loop of bwrap subprocesses with the same
  sandbox arguments and no limits at the same parallelism. Targets: ratio <= 1.5 and
  <= 10 ms per instance amortised.

Each side runs three times, alternating, and the faster round counts (less noise from the
machine). The end-to-end variant through `localbatch run` is bench_run.
Run standalone: `.venv/bin/python -m bench.bench_runtime`.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from localbatch.config import DEFAULT_DOCKER_IMAGE, DEFAULT_INSTANCE_TYPE
from localbatch.runtime.base import WORKDIR, AttemptSpec, Runtime, run_attempt
from localbatch.spec.instance_types import INSTANCE_TYPES
from localbatch.storage.needs import package_view

PARALLEL = 2
CONTAINERS = 24
PROCESSES = 200
ROUNDS = 3
TRIVIAL = ("sh", "-c", ":")
ENV = {"PATH": "/sbin:/usr/sbin:/bin:/usr/bin", "HOME": "/root", "USER": "root"}
SIZE = INSTANCE_TYPES[DEFAULT_INSTANCE_TYPE]
CPUS = 1.0


def _spec(root: Path, index: int, image: str, memory: int) -> AttemptSpec:
    return AttemptSpec(
        job_id="job-bench",
        task_name="trivial",
        instance_id=index,
        attempt=0,
        argv=TRIVIAL,
        env=ENV,
        needs=(package_view(root),),
        image=image,
        cpu_cores=CPUS,
        memory_bytes=memory,
        stdout_path=root / "stdout",
        stderr_path=root / "stderr",
    )


def _timed(count: int, one: Callable[[int], None]) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started


def _through_runtime(runtime: Runtime, root: Path, count: int, image: str, memory: int) -> float:
    def one(index: int) -> None:
        outcome = run_attempt(runtime, _spec(root, index, image, memory), 300, threading.Event())
        if not outcome.succeeded:
            raise RuntimeError(f"attempt {index} failed: {outcome}")

    return _timed(count, one)


def _best_of(measure_a: Callable[[], float], measure_b: Callable[[], float]) -> tuple[float, float]:
    a_times, b_times = [], []
    for _ in range(ROUNDS):
        a_times.append(measure_a())
        b_times.append(measure_b())
    return min(a_times), min(b_times)


def container_overhead(root: Path) -> dict[str, Any]:
    import docker
    import docker.types

    from localbatch.runtime.docker import DockerRuntime

    client = docker.from_env()
    runtime = DockerRuntime(client)
    runtime.check()
    api = client.api

    def plain(index: int) -> None:
        host_config = api.create_host_config(
            mounts=[docker.types.Mount(WORKDIR, str(root), type="bind", read_only=False)],
            nano_cpus=int(CPUS * 1e9),
            mem_limit=SIZE.memory_bytes,
            memswap_limit=SIZE.memory_bytes,
            network_mode="bridge",
            init=True,
        )
        container = api.create_container(
            DEFAULT_DOCKER_IMAGE,
            command=list(TRIVIAL),
            environment=ENV,
            working_dir=WORKDIR,
            host_config=host_config,
        )["Id"]
        api.start(container)
        if api.wait(container)["StatusCode"] != 0:
            raise RuntimeError("the plain container failed")
        api.remove_container(container, force=True)

    _through_runtime(runtime, root, PARALLEL, DEFAULT_DOCKER_IMAGE, SIZE.memory_bytes)  # warm-up
    ours, baseline = _best_of(
        lambda: _through_runtime(
            runtime, root, CONTAINERS, DEFAULT_DOCKER_IMAGE, SIZE.memory_bytes
        ),
        lambda: _timed(CONTAINERS, plain),
    )
    return {
        "containers": CONTAINERS,
        "parallel": PARALLEL,
        "runtime_s": round(ours, 3),
        "plain_engine_api_s": round(baseline, 3),
        "ratio": round(ours / baseline, 3),
        "target_ratio": 1.15,
    }


def process_overhead(root: Path) -> dict[str, Any]:
    from localbatch.runtime.process import ProcessRuntime, sandbox_args

    runtime = ProcessRuntime()
    runtime.check()
    assert runtime.bwrap is not None
    bwrap = runtime.bwrap

    def plain(index: int) -> None:
        spec = _spec(root, index, "", 0)
        command = [bwrap, *sandbox_args(spec), "--", *TRIVIAL]
        with spec.stdout_path.open("ab") as out, spec.stderr_path.open("ab") as err:
            if subprocess.run(command, stdout=out, stderr=err, check=False).returncode != 0:
                raise RuntimeError("the plain sandbox failed")

    result: dict[str, Any] = {"instances": PROCESSES, "parallel": PARALLEL}
    result["memory_limit"] = runtime.memory.description if runtime.memory else "none"
    for label, memory in (("", SIZE.memory_bytes), ("_without_memory_limit", 0)):
        _through_runtime(runtime, root, PARALLEL, "", memory)  # warm-up
        ours, baseline = _best_of(
            lambda memory=memory: _through_runtime(runtime, root, PROCESSES, "", memory),  # type: ignore[misc]
            lambda: _timed(PROCESSES, plain),
        )
        result[f"runtime_s{label}"] = round(ours, 3)
        result[f"plain_bwrap_s{label}"] = round(baseline, 3)
        result[f"ratio{label}"] = round(ours / baseline, 3)
        result[f"ms_per_instance{label}"] = round(ours / PROCESSES * 1000, 2)
    result["target_ratio"] = 1.5
    result["target_ms_per_instance"] = 10
    return result


def main() -> dict[str, Any]:
    results: dict[str, Any] = {"level": "runtime (run_attempt), not localbatch run"}
    with tempfile.TemporaryDirectory(prefix="localbatch-bench-") as tmp:
        for name, measure in (("docker", container_overhead), ("process", process_overhead)):
            root = Path(tmp) / name
            root.mkdir()
            try:
                results[name] = measure(root)
            except Exception as exc:  # one runtime missing still reports the other
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
