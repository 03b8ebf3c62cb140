"""Run every benchmark (`make bench`): each `bench/bench_*.py` exposes `main() -> dict`.

Results are printed as JSON lines and saved with a description of the machine in
bench/results/latest.json, ready to copy into docs/benchmarks.md. Pass module names to run a
subset: `python -m bench bench_validate bench_storage`.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).parent


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    results: dict[str, Any] = {"machine": machine()}
    failed = 0
    for name in names:
        started = time.monotonic()
        try:
            module = importlib.import_module(f"bench.{name}")
            outcome = module.main()
        except Exception as exc:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
            failed += 1
        outcome["seconds"] = round(time.monotonic() - started, 1)
        results[name] = outcome
        print(json.dumps({name: outcome}), flush=True)
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
