"""Program output shown live by `localbatch run`: its cost and its latency, on both runtimes.

Cost: 8 instances each printing 200,000 short lines (side by side: `--oversubscribe
--max-parallel 8`), the whole `localbatch run` with the output shown (to a pipe this
benchmark reads, as `| tee` would) against the same run with `--quiet`, in the same run,
rounds alternating, the best of each side counting. Target: ratio <= 1.2.

Latency: one instance prints the time every 0.1 s for 3 s; this benchmark notes when each
line reaches it through `localbatch run`'s stdout: median and 95th percentile of the delay
(the log files are read every 50 ms, so about 25 ms are expected).

All runs share one image cache, filled by a first run that is not measured: the process
runtime unpacks the image once, as a second run of a user's does.

Run standalone: `.venv/bin/python -m bench.bench_output`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

INSTANCES = 8
LINES = 200_000
TARGET = 1.2
PRINT_LINES = (
    "python3 -c \"import sys; sys.stdout.write(''.join('line %d of the flood' % i + chr(10) "
    f'for i in range({LINES})))"'
)
PRINT_TIMES = (
    'python3 -c "import time, sys\n'
    'for _ in range(30): print(repr(time.time()), flush=True); time.sleep(0.1)"'
)


def job(command: str, instances: int) -> dict[str, Any]:
    return {
        "Name": "bench-output",
        "Type": "DAG",
        "DAG": {
            "Tasks": {
                "out": {
                    "InstanceCount": instances,
                    "Timeout": 600,
                    "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
                    "Parameters": {"Command": {"CommandLine": command}},
                }
            }
        },
    }


def command(root: Path, runtime: str, body: dict[str, Any], *extra: str) -> list[str]:
    path = root / "job.json"
    path.write_text(json.dumps(body))
    return [
        sys.executable, "-m", "localbatch", "run", str(path), "--runtime", runtime,
        "--state-dir", str(root / "state"), "--oss-root", str(root / "oss"), *extra,
    ]  # fmt: skip


def env(root: Path) -> dict[str, str]:
    """The run's environment: no config file, the benchmark's one image cache."""
    return {
        **os.environ,
        "LOCALBATCH_CONFIG": str(root / "none.toml"),
        "LOCALBATCH_IMAGE_CACHE": str(root.parent / "image-cache"),
    }


def timed_run(root: Path, runtime: str, *extra: str) -> tuple[float, int]:
    """Seconds of one whole run, and how many program lines it showed."""
    body = job(PRINT_LINES, INSTANCES)
    args = command(root, runtime, body, "--oversubscribe", "--max-parallel", "8", *extra)
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, env=env(root), timeout=1200)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"localbatch run failed ({done.returncode}):\n{done.stderr[-3000:]!r}")
    shown = sum(1 for line in done.stdout.splitlines() if b" | line " in line)
    return elapsed, shown


def latencies(root: Path, runtime: str) -> list[float]:
    """How long each printed line took to reach `localbatch run`'s reader, in seconds."""
    args = command(root, runtime, job(PRINT_TIMES, 1))
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env(root), text=True
    )
    assert process.stdout is not None
    delays = []
    for line in process.stdout:
        received = time.time()
        if line.startswith("out.0 | "):
            delays.append(received - float(line.split("| ", 1)[1]))
    process.wait(timeout=120)
    return delays


def cost(runtime: str, rounds: int) -> dict[str, Any]:
    shown_runs, quiet_runs = [], []
    lines_shown = 0
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm"
        warm.mkdir()
        timed_run(warm, runtime, "--quiet")  # fills the image cache; not measured
        for index in range(rounds):
            for quiet in (False, True):
                root = Path(tmp) / f"{index}-{quiet}"
                root.mkdir()
                elapsed, shown = timed_run(root, runtime, *(("--quiet",) if quiet else ()))
                (quiet_runs if quiet else shown_runs).append(elapsed)
                lines_shown = lines_shown if quiet else shown
        latency_dir = Path(tmp) / "latency"
        latency_dir.mkdir()
        delays = latencies(latency_dir, runtime)
    ratio = min(shown_runs) / min(quiet_runs)
    return {
        "lines_shown": lines_shown,
        "shown_s": [round(r, 2) for r in shown_runs],
        "quiet_s": [round(r, 2) for r in quiet_runs],
        "ratio": round(ratio, 3),
        "target_ratio": TARGET,
        "ok": ratio <= TARGET and lines_shown == INSTANCES * LINES,
        "latency_median_ms": round(statistics.median(delays) * 1000, 1),
        "latency_p95_ms": round(statistics.quantiles(delays, n=20)[-1] * 1000, 1),
    }


def main(rounds: int = 2) -> dict[str, Any]:
    results: dict[str, Any] = {"instances": INSTANCES, "lines_each": LINES}
    for runtime in ("process", "docker"):
        results[runtime] = cost(runtime, rounds)
    results["ok"] = all(results[r]["ok"] for r in ("process", "docker"))
    return results


if __name__ == "__main__":
    print(json.dumps(main()))
