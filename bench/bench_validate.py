"""`localbatch validate` on a 16-task job, interpreter start included, against `python -c pass`.

Both run as fresh subprocesses of the same interpreter, interleaved, several times; the
figures are medians. The ratio says what validation (imports, reading, checking, printing)
costs on top of starting Python at all; the absolute median is the answer to "well under a
second"; `validate_call_ms` is the check alone, in process.
Run alone with `.venv/bin/python -m bench.bench_validate`.
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

RUNS = 15
TASKS = 16


def sixteen_task_job() -> dict[str, Any]:
    """A fan-out/fan-in DAG of 16 tasks, every task complete as the SDK would send it."""

    def task(instances: int) -> dict[str, Any]:
        return {
            "Parameters": {
                "Command": {
                    "CommandLine": "python3 worker.py",
                    "PackagePath": "oss://bench/pkg/worker.tar.gz",
                    "EnvVars": {f"VAR{n}": str(n) for n in range(8)},
                    "Docker": {"Image": ""},
                },
                "InputMappingConfig": {"Locale": "GBK", "Lock": False},
                "StdoutRedirectPath": "oss://bench/logs/",
                "StderrRedirectPath": "oss://bench/logs/",
            },
            "InputMapping": {"oss://bench/in/": "/home/input/"},
            "OutputMapping": {"/home/output/": "oss://bench/out/"},
            "LogMapping": {},
            "InstanceCount": instances,
            "MaxRetryCount": 1,
            "Timeout": 3600,
            "ClusterId": "",
            "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
        }

    middle = [f"work{n:02d}" for n in range(TASKS - 2)]
    return {
        "Name": "bench16",
        "Type": "DAG",
        "JobFailOnInstanceFail": True,
        "Priority": 1,
        "DAG": {
            "Tasks": {"split": task(1), **{name: task(4) for name in middle}, "merge": task(1)},
            "Dependencies": {"split": middle, **{name: ["merge"] for name in middle}},
        },
    }


def _seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _in_process() -> dict[str, Any]:
    """The check alone, without process start or imports, for comparison."""
    from localbatch.spec.validate import validate

    body = sixteen_task_job()
    calls = 200
    started = time.perf_counter()
    for _ in range(calls):
        assert validate(body).valid
    return {"validate_call_ms": round((time.perf_counter() - started) / calls * 1000, 3)}


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="localbatch-bench-") as tmp:
        path = Path(tmp) / "job.json"
        path.write_text(json.dumps(sixteen_task_job()))
        env = {**os.environ, "LOCALBATCH_CONFIG": str(Path(tmp) / "none.toml")}
        validate = [sys.executable, "-m", "localbatch", "validate", str(path)]
        baseline = [sys.executable, "-c", "pass"]
        _seconds(validate, env)  # warm the file cache and bytecode
        pairs = [(_seconds(baseline, env), _seconds(validate, env)) for _ in range(RUNS)]
    python = statistics.median(p[0] for p in pairs)
    command = statistics.median(p[1] for p in pairs)
    return {
        **_in_process(),
        "tasks": TASKS,
        "runs": RUNS,
        "validate_median_s": round(command, 4),
        "python_start_median_s": round(python, 4),
        "ratio_vs_python_start": round(command / python, 2),
        "target": "validate_median_s well under 1 s",
    }


if __name__ == "__main__":
    print(json.dumps(main()))
