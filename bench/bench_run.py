"""Container overhead: 24 trivial instances (`sh -c :`) through the whole `localbatch run`.

Measured against a plain loop over the Docker Engine API that creates, starts, waits for
and removes the same 24 containers (same image, limits, init, work directory bind, network
mode) with the same parallelism, in the same run. The `localbatch run` side includes
everything a user pays for: interpreter start, validation, the OSS endpoint, storage
preparation, the job store. Rounds alternate and the best of each side counts, because the
load of a shared machine changes during a run.
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
from localbatch.runtime.base import WORKDIR

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


def plain_loop(parallel: int, root: Path) -> float:
    """The same containers through the Engine API, nothing else: same image, command,
    limits, init, network mode and a bind-mounted work directory."""
    import docker
    import docker.types

    client = docker.from_env()
    api = client.api
    size = size_instance(DEFAULT_INSTANCE_TYPE, HostCapacity.detect()).granted

    def one(index: int) -> None:
        workdir = root / "plain" / str(index)
        workdir.mkdir(parents=True, exist_ok=True)
        host_config = api.create_host_config(
            mounts=[docker.types.Mount(WORKDIR, str(workdir), type="bind")],
            nano_cpus=int(size.cpu_cores * 1e9),
            mem_limit=size.memory_bytes,
            memswap_limit=size.memory_bytes,
            network_mode="bridge",
            init=True,
        )
        container = api.create_container(
            DEFAULT_DOCKER_IMAGE,
            ["sh", "-c", ":"],
            working_dir=WORKDIR,
            labels={"localbatch.bench": "plain"},
            host_config=host_config,
        )["Id"]
        try:
            api.start(container)
            api.wait(container)
            api.logs(container)
        finally:
            api.remove_container(container, force=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(one, range(INSTANCES)))
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def main(rounds: int = 3) -> dict[str, Any]:
    parallel = parallelism()
    runs, loops = [], []
    with tempfile.TemporaryDirectory() as tmp:
        plain_loop(parallel, Path(tmp))  # warm the image cache and the daemon
        for index in range(rounds):
            loops.append(plain_loop(parallel, Path(tmp)))
            round_dir = Path(tmp) / f"round{index}"
            round_dir.mkdir()
            runs.append(through_localbatch(round_dir))
    run, baseline = min(runs), min(loops)
    return {
        "instances": INSTANCES,
        "parallel": parallel,
        "localbatch_run_s": [round(r, 2) for r in runs],
        "engine_api_loop_s": [round(b, 2) for b in loops],
        "ratio": round(run / baseline, 3),
        "target_ratio": 1.15,
        "ok": run / baseline <= 1.15,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
