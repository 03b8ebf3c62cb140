"""CreateJob costs in proportion to the body, not to InstanceCount (issue 9).

A 10-task job of 10,000 instances each (100,000 instances, a ~2 kB body) against the same
10 tasks of one instance each, both posted to a running `localbatch serve` stack (fake
runtime, one instance at a time, so that what is measured is the answer, not the work).
Each is posted several times; the medians are compared. Also the peak memory growth of
the process while the large jobs are created.

Target: the large job answers within 1 s, and within a small factor of the 10 x 1 job.
Run alone with `.venv/bin/python -m bench.bench_createjob`.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

TASKS = 10
LARGE = 10_000
ROUNDS = 5


def _body(instances: int) -> dict[str, Any]:
    def task() -> dict[str, Any]:
        return {
            "Parameters": {
                "Command": {"CommandLine": "python main.py", "PackagePath": ""},
                "StdoutRedirectPath": "oss://bench/logs/",
                "StderrRedirectPath": "oss://bench/logs/",
            },
            "InstanceCount": instances,
            "Timeout": 600,
            "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
        }

    return {
        "Name": f"bench-{instances}",
        "Type": "DAG",
        "DAG": {"Tasks": {f"t{n}": task() for n in range(TASKS)}, "Dependencies": {}},
    }


def main() -> dict[str, Any]:
    from localbatch.config import load_config
    from localbatch.runtime.fake import FakeRuntime, FakeStep
    from localbatch.server.client import ApiClient
    from localbatch.server.stack import start_stack

    process = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="bench-createjob-") as tmp:
        base = Path(tmp)
        config = load_config(
            base / "none.toml", env={}, state_dir=base / "state", oss_root=base / "oss"
        )
        stack = start_stack(
            config, FakeRuntime(FakeStep(hang=True)), port=0, oss_port=None, max_parallel=1
        )
        client = ApiClient(stack.url)
        timings: dict[int, list[float]] = {1: [], LARGE: []}
        body_bytes = {n: len(json.dumps(_body(n))) for n in timings}
        rss_before = process.memory_info().rss
        rss_peak = rss_before
        try:
            for _ in range(ROUNDS):
                for instances in timings:
                    began = time.perf_counter()
                    job_id = client.request("POST", "/jobs", _body(instances))["Id"]
                    timings[instances].append(time.perf_counter() - began)
                    rss_peak = max(rss_peak, process.memory_info().rss)
                    client.request("POST", f"/jobs/{job_id}/stop")
            large = stack.store.list_jobs(max_items=1).items[0]
            counted = sum(large.instance_counts.by_state.values())
        finally:
            stack.close()
    small, big = statistics.median(timings[1]), statistics.median(timings[LARGE])
    return {
        "instances": TASKS * LARGE,
        "body_bytes": body_bytes[LARGE],
        "baseline_instances": TASKS,
        "baseline_body_bytes": body_bytes[1],
        "large_seconds": round(big, 4),
        "baseline_seconds": round(small, 4),
        "ratio": round(big / small, 2),
        "rss_growth_mib": round((rss_peak - rss_before) / 2**20, 1),
        "instances_shown": counted,
        "targets_met": big <= 1.0 and counted == TASKS * LARGE,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
