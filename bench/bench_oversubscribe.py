"""`--oversubscribe`: three instances of a type as large as the host run side by side.

Three instances of `sleep 3` of a 2-core type (`ecs.sn1.medium` on a 2-core host; on a
larger host a type scaled down to the whole host) with `--oversubscribe`, against one such
instance alone, the whole `localbatch run` each, on both runtimes, in the same run, rounds
alternating, the best of each side counting. Without `--oversubscribe` the three would run
one after another (about 3x). Target: ratio <= 1.3.

All runs share one image cache, filled by a first run that is not measured.

Run standalone: `.venv/bin/python -m bench.bench_oversubscribe`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 1.3
SLEEP = 3


def instance_type() -> str:
    """A type as large as this host: 2 cores on a 2-core host, else one scaled down to it."""
    return "ecs.sn1.medium" if os.cpu_count() == 2 else "bcs.b4.5xlarge"


def run(root: Path, runtime: str, instances: int) -> float:
    body = {
        "Name": "bench-oversubscribe",
        "Type": "DAG",
        "DAG": {
            "Tasks": {
                "sleepers": {
                    "InstanceCount": instances,
                    "Timeout": 600,
                    "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": instance_type()},
                    "Parameters": {"Command": {"CommandLine": f"sleep {SLEEP}"}},
                }
            }
        },
    }
    path = root / "job.json"
    path.write_text(json.dumps(body))
    command = [
        sys.executable, "-m", "localbatch", "run", str(path), "--runtime", runtime,
        "--state-dir", str(root / "state"), "--oss-root", str(root / "oss"), "--oversubscribe",
    ]  # fmt: skip
    env = {
        **os.environ,
        "LOCALBATCH_CONFIG": str(root / "none.toml"),
        "LOCALBATCH_IMAGE_CACHE": str(root.parent / "image-cache"),
    }
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"localbatch run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed


def compare(runtime: str, rounds: int) -> dict[str, Any]:
    three, one = [], []
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm"
        warm.mkdir()
        run(warm, runtime, 1)  # fills the image cache; not measured
        for index in range(rounds):
            for count, times in ((3, three), (1, one)):
                root = Path(tmp) / f"{runtime}-{index}-{count}"
                root.mkdir()
                times.append(run(root, runtime, count))
    ratio = min(three) / min(one)
    return {
        "three_s": [round(t, 2) for t in three],
        "one_s": [round(t, 2) for t in one],
        "ratio": round(ratio, 3),
        "target_ratio": TARGET,
        "ok": ratio <= TARGET,
    }


def main(rounds: int = 3) -> dict[str, Any]:
    results: dict[str, Any] = {"instance_type": instance_type(), "sleep_s": SLEEP}
    for runtime in ("process", "docker"):
        results[runtime] = compare(runtime, rounds)
    results["ok"] = all(results[r]["ok"] for r in ("process", "docker"))
    return results


if __name__ == "__main__":
    print(json.dumps(main()))
