"""The swarm runtime's cost, measured at the runtime level (`run_attempt`), in one run:

- Overhead per instance: 24 trivial attempts (`sh -c :`) through the swarm runtime and
  through the Docker runtime, at parallelism 2 (same image, size, init and work directory
  bind), best of two rounds each. No target: the ratio, and where the swarm's time goes
  (each runtime call timed: creating the service, the wait until a node runs it, the wait
  for its end, its removal).
- Throughput: 100 attempts of `sleep 1`, at most 8 at once, against the ideal
  100 / 8 = 12.5 s (and, for reference, the Docker runtime under the same load). Through
  `localbatch run --max-parallel 8` when the swarm can hold 8 instances of the default
  type (16 cores), otherwise at the runtime level with 8 workers and quarter-core attempts
  (8 fit on 2 cores): the instance type table has nothing smaller than 2 cores, which a
  2-core node runs one at a time.

Needs this Docker Engine to be a swarm manager (`docker swarm init`).
Run standalone: `.venv/bin/python -m bench.bench_swarm`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from localbatch.config import DEFAULT_DOCKER_IMAGE, DEFAULT_INSTANCE_TYPE
from localbatch.runtime.base import AttemptOutcome, AttemptSpec, Runtime, run_attempt
from localbatch.spec.instance_types import INSTANCE_TYPES
from localbatch.storage.needs import package_view

TRIVIAL_COUNT = 24
PARALLEL = 2
ROUNDS = 2
SLEEPERS = 100
AT_ONCE = 8
ENV = {"PATH": "/sbin:/usr/sbin:/bin:/usr/bin", "HOME": "/root", "USER": "root"}
SIZE = INSTANCE_TYPES[DEFAULT_INSTANCE_TYPE]


class Timed:
    """A runtime whose calls are timed, to say where an attempt's time goes."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.name = runtime.name
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.runtime, name)
        if name not in ("start", "placement", "wait", "stop", "release"):
            return method

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[name] += time.perf_counter() - started
                    self.calls[name] += 1

        return timed

    def per_attempt_ms(self, attempts: int) -> dict[str, float]:
        return {name: round(s / attempts * 1000, 1) for name, s in self.seconds.items()}


def _spec(root: Path, index: int, argv: tuple[str, ...], cores: float) -> AttemptSpec:
    return AttemptSpec(
        job_id="job-bench",
        task_name="bench",
        instance_id=index,
        attempt=0,
        argv=argv,
        env=ENV,
        needs=(package_view(root),),
        image=DEFAULT_DOCKER_IMAGE,
        cpu_cores=cores,
        memory_bytes=SIZE.memory_bytes if cores >= 1 else 256 * 2**20,
        stdout_path=root / "stdout",
        stderr_path=root / "stderr",
    )


def _through(
    runtime: Runtime, root: Path, count: int, workers: int, argv: tuple[str, ...], cores: float
) -> float:
    def one(index: int) -> None:
        outcome: AttemptOutcome = run_attempt(
            runtime, _spec(root, index, argv, cores), 300, threading.Event()
        )
        if not outcome.succeeded:
            raise RuntimeError(f"attempt {index} failed: {outcome}")

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started


def _best(measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(ROUNDS))


def overhead(root: Path) -> dict[str, Any]:
    from localbatch.runtime.docker import DockerRuntime
    from localbatch.runtime.swarm import SwarmRuntime

    docker_runtime = DockerRuntime()
    docker_runtime.check()
    swarm = SwarmRuntime()
    swarm.check()
    trivial = ("sh", "-c", ":")
    for runtime in (docker_runtime, swarm):  # warm-up
        _through(runtime, root, PARALLEL, PARALLEL, trivial, 1.0)
    on_docker = _best(lambda: _through(docker_runtime, root, TRIVIAL_COUNT, PARALLEL, trivial, 1))
    timed = Timed(swarm)
    on_swarm = _best(lambda: _through(timed, root, TRIVIAL_COUNT, PARALLEL, trivial, 1))  # type: ignore[arg-type]
    attempts = TRIVIAL_COUNT * ROUNDS
    return {
        "instances": TRIVIAL_COUNT,
        "parallel": PARALLEL,
        "docker_s": round(on_docker, 3),
        "swarm_s": round(on_swarm, 3),
        "ratio": round(on_swarm / on_docker, 2),
        "docker_s_per_instance": round(on_docker / TRIVIAL_COUNT * PARALLEL, 3),
        "swarm_s_per_instance": round(on_swarm / TRIVIAL_COUNT * PARALLEL, 3),
        "swarm_ms_per_attempt_in": timed.per_attempt_ms(attempts),
        "task_poll_interval_s": swarm.tasks.interval,
    }


def _swarm_holds_eight() -> bool:
    from localbatch.runtime.swarm import SwarmRuntime

    nodes = SwarmRuntime().nodes()
    return sum(int(n.cpu_cores // SIZE.cpu_cores) for n in nodes) >= AT_ONCE


def throughput(root: Path) -> dict[str, Any]:
    ideal = SLEEPERS / AT_ONCE
    if _swarm_holds_eight():
        mode = f"localbatch run --max-parallel {AT_ONCE}, {DEFAULT_INSTANCE_TYPE}"
        wall = _end_to_end(root)
    else:
        from localbatch.runtime.swarm import SwarmRuntime

        mode = (
            f"run_attempt, {AT_ONCE} workers, 0.25-core attempts "
            f"(the swarm holds fewer than {AT_ONCE} {DEFAULT_INSTANCE_TYPE})"
        )
        swarm = SwarmRuntime()
        swarm.check()
        wall = _through(swarm, root, SLEEPERS, AT_ONCE, ("sleep", "1"), 0.25)
    from localbatch.runtime.docker import DockerRuntime

    docker_runtime = DockerRuntime()
    docker_runtime.check()
    on_docker = _through(docker_runtime, root, SLEEPERS, AT_ONCE, ("sleep", "1"), 0.25)
    return {
        "instances": SLEEPERS,
        "at_once": AT_ONCE,
        "mode": mode,
        "wall_s": round(wall, 2),
        "ideal_s": ideal,
        "ratio_to_ideal": round(wall / ideal, 2),
        "docker_runtime_same_load_s": round(on_docker, 2),
    }


def _end_to_end(root: Path) -> float:
    task = {
        "InstanceCount": SLEEPERS,
        "MaxRetryCount": 0,
        "Timeout": 300,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": DEFAULT_INSTANCE_TYPE},
        "Parameters": {"Command": {"CommandLine": "sleep 1", "PackagePath": ""}},
    }
    job = {"Name": "sleepers", "Type": "DAG", "DAG": {"Tasks": {"s": task}, "Dependencies": {}}}
    path = root / "job.json"
    path.write_text(json.dumps(job))
    command = [sys.executable, "-m", "localbatch", "run", str(path), "--runtime", "swarm"]
    command += ["--max-parallel", str(AT_ONCE), "--state-dir", str(root / "state")]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=900)
    return time.perf_counter() - started


def main() -> dict[str, Any]:
    results: dict[str, Any] = {"level": "runtime (run_attempt) unless said"}
    with tempfile.TemporaryDirectory(prefix="localbatch-bench-swarm-") as tmp:
        for name, measure in (("overhead", overhead), ("throughput", throughput)):
            root = Path(tmp) / name
            root.mkdir()
            results[name] = measure(root)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
