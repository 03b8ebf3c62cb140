"""Container overhead: 24 trivial instances (`sh -c :`) through the whole `localbatch run`.

Measured against a plain loop over the Docker Engine API that creates, starts, waits for
and removes the same 24 containers (same image, limits, network mode) with the same
parallelism, in the same run. The `localbatch run` side includes everything a user pays
for: interpreter start, validation, the OSS endpoint, storage preparation, the job store.
Target: ratio <= 1.15. Run standalone: `.venv/bin/python -m bench.bench_run`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from localbatch.config import DEFAULT_DOCKER_IMAGE, DEFAULT_INSTANCE_TYPE
from localbatch.engine.capacity import CapacityLedger, HostCapacity, size_instance

INSTANCES = 24


def parallelism() -> int:
    """How many default-size instances localbatch runs at once on this host."""
    host = HostCapacity.detect()
    need = size_instance(DEFAULT_INSTANCE_TYPE, host).granted
    ledger = CapacityLedger(host)
    while ledger.fits(need) and ledger.running < INSTANCES:
        ledger.take(need)
    return ledger.running


def job(instances: int = INSTANCES) -> dict[str, Any]:
    return {
        "Name": "bench-run",
        "Type": "DAG",
        "DAG": {
            "Tasks": {
                "trivial": {
                    "InstanceCount": instances,
                    "Timeout": 300,
                    "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": DEFAULT_INSTANCE_TYPE},
                    "Parameters": {"Command": {"CommandLine": "sh -c :"}},
                }
            }
        },
    }


def through_localbatch(root: Path) -> float:
    path = root / "job.json"
    path.write_text(json.dumps(job()))
    command = [sys.executable, "-m", "localbatch", "run", str(path), "--runtime", "docker"]
    command += ["--state-dir", str(root / "state"), "--oss-root", str(root / "oss")]
    env = {**os.environ, "LOCALBATCH_CONFIG": str(root / "none.toml")}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"localbatch run failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return elapsed


def plain_loop(parallel: int) -> float:
    """The same containers through the Engine API, nothing else."""
    import docker

    client = docker.from_env()
    size = size_instance(DEFAULT_INSTANCE_TYPE, HostCapacity.detect()).granted

    def one(index: int) -> None:
        container = client.containers.create(
            DEFAULT_DOCKER_IMAGE,
            ["sh", "-c", ":"],
            labels={"localbatch.bench": "plain"},
            nano_cpus=int(size.cpu_cores * 1e9),
            mem_limit=size.memory_bytes,
            working_dir="/",
        )
        try:
            container.start()
            container.wait()
            container.logs()
        finally:
            container.remove(force=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(one, range(INSTANCES)))
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def main() -> dict[str, Any]:
    parallel = parallelism()
    with tempfile.TemporaryDirectory() as tmp:
        plain_loop(parallel)  # warm the image cache and the daemon
        baseline = plain_loop(parallel)
        run = through_localbatch(Path(tmp))
    return {
        "instances": INSTANCES,
        "parallel": parallel,
        "localbatch_run_s": round(run, 2),
        "engine_api_loop_s": round(baseline, 2),
        "ratio": round(run / baseline, 3),
        "target_ratio": 1.15,
        "ok": run / baseline <= 1.15,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
