"""Storage benchmarks: zero-copy inputs, output upload, package extraction and reuse.

Each figure is a ratio against a baseline measured in the same run on the same disk:
- inputs: an instance whose InputMapping covers 1 GiB in 4,096 files vs one with an empty
  input (prepare + finish, median of interleaved runs); target <= 1.05 (zero copy);
- outputs: `finish()` uploading 1 GiB / 4,096 files to the local root vs `cp -r` of the
  same tree, as a throughput ratio; target >= 0.8 (also reported: the copying path that
  `keep=True` / ReserveOnFail takes);
- package: unpacking a 64 MiB .tar.gz into the cache vs `tar -xzf` (target <= 1.2), and 16
  instances' `prepare()` vs one (target <= 1.3) with the default `auto` copies (an overlay
  mount per attempt when running as root), also reported for the `link` fallback and for
  `copy`; and one more instance's `prepare()` on a warm cache, auto vs link (the cost of a
  mount against that of linking the files). Each prepared attempt is finished (unmounted)
  after the timing.
Data lives in a temporary directory (`$LOCALBATCH_BENCH_DIR` or the system's), removed at
the end. Run alone with `.venv/bin/python -m bench.bench_storage`.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localbatch.config import Config, load_config
from localbatch.spec.model import parse_job
from localbatch.storage.instance import JobStorage
from localbatch.storage.needs import NeedKind
from localbatch.storage.packages import CopyMode, PackageCache
from localbatch.storage.resolver import OssResolver

FILES = 4096
FILE_SIZE = 256 * 1024  # 4,096 x 256 KiB = 1 GiB
PACKAGE_FILES = 256  # 256 x 256 KiB of random bytes: a 64 MiB .tar.gz


def config_in(base: Path) -> Config:
    base.mkdir(parents=True, exist_ok=True)
    return load_config(base / "none.toml", env={}, state_dir=base / "state", oss_root=base / "oss")


def storage(config: Config, task: dict[str, Any], *, copy_mode: CopyMode = "auto") -> JobStorage:
    body = {"Name": "bench", "DAG": {"Tasks": {"t": {"InstanceCount": 16, **task}}}}
    job_id = f"job-{time.monotonic_ns()}"
    work = config.state_dir / "jobs" / job_id
    return JobStorage(config, job_id, parse_job(body), work, copy_mode=copy_mode)


def write_tree(directory: Path, files: int = FILES, size: int = FILE_SIZE) -> None:
    block = os.urandom(size)
    for n in range(files):
        path = directory / f"d{n % 64:02d}" / f"part-{n:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(n.to_bytes(8, "little") + block[8:])


def timed(action: Callable[[], object]) -> float:
    os.sync()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_inputs(base: Path, rounds: int = 400) -> dict[str, Any]:
    config = config_in(base)
    write_tree(config.oss.root / "bench" / "input")
    (config.oss.root / "bench" / "empty").mkdir(parents=True)
    command = {"Command": {"CommandLine": "true", "PackagePath": ""}}
    jobs = {
        "full": storage(
            config, {"Parameters": command, "InputMapping": {"oss://bench/input/": "/in/"}}
        ),
        "empty": storage(
            config, {"Parameters": command, "InputMapping": {"oss://bench/empty/": "/in/"}}
        ),
    }
    samples: dict[str, list[float]] = {"full": [], "empty": []}
    for n in range(rounds):
        order = ("full", "empty") if n % 2 else ("empty", "full")  # no order bias
        for name in order:
            job = jobs[name]
            started = time.perf_counter()
            job.finish(job.prepare("t", n % 16, n))
            samples[name].append(time.perf_counter() - started)
    full, empty = statistics.median(samples["full"]), statistics.median(samples["empty"])
    return {
        "input_bytes": FILES * FILE_SIZE,
        "input_files": FILES,
        "median_ms_1gib_input": round(full * 1000, 3),
        "median_ms_empty_input": round(empty * 1000, 3),
        "ratio": round(full / empty, 3),
        "target": "<= 1.05",
    }


def bench_outputs(base: Path, rounds: int = 3) -> dict[str, Any]:
    config = config_in(base)
    source = base / "cp-source"
    write_tree(source)
    task = {
        "Parameters": {"Command": {"CommandLine": "true", "PackagePath": ""}},
        "OutputMapping": {"/out/": "oss://bench/out/"},
    }

    def copy_tree() -> float:
        copy = base / "cp-copy"
        seconds = timed(lambda: subprocess.run(["cp", "-r", str(source), str(copy)], check=True))
        shutil.rmtree(copy)
        return seconds

    def finish(keep: bool) -> float:
        job = storage(config, task)
        prepared = job.prepare("t", 0, 0)
        (output,) = (n.source for n in prepared.needs if n.kind is NeedKind.OUTPUT)
        write_tree(output)
        seconds = timed(lambda: job.finish(prepared, keep=keep))
        shutil.rmtree(config.oss.root / "bench" / "out")
        shutil.rmtree(config.state_dir / "jobs")
        return seconds

    cp_runs, finish_runs = [], []
    for _ in range(rounds):  # interleaved: this disk's speed drifts a lot between runs
        cp_runs.append(copy_tree())
        finish_runs.append(finish(keep=False))
    keep_copy = finish(keep=True)
    cp_seconds, publish = statistics.median(cp_runs), statistics.median(finish_runs)
    gib = FILES * FILE_SIZE / 1024**3
    return {
        "cp_r_seconds": round(cp_seconds, 3),
        "cp_r_runs": [round(x, 3) for x in cp_runs],
        "finish_seconds": round(publish, 3),
        "finish_runs": [round(x, 3) for x in finish_runs],
        "throughput_ratio": round(cp_seconds / publish, 2),
        "finish_gib_per_s": round(gib / publish, 2),
        "keep_on_failure_copy_seconds": round(keep_copy, 3),
        "keep_on_failure_throughput_ratio": round(cp_seconds / keep_copy, 2),
        "target": ">= 0.8",
    }


def make_package(base: Path) -> Path:
    content = base / "package-content"
    for n in range(PACKAGE_FILES):
        path = content / f"lib{n % 8}" / f"blob-{n:03d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(256 * 1024))
    archive = base / "oss" / "bench" / "pkg" / "worker.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-czf", str(archive), "-C", str(content), "."], check=True)
    shutil.rmtree(content)
    return archive


def bench_package(base: Path, rounds: int = 5) -> dict[str, Any]:
    config = config_in(base)
    archive = make_package(base)
    location = OssResolver(config.oss).resolve("oss://bench/pkg/worker.tar.gz")

    def system_tar(n: int) -> float:
        target = base / f"tar-{n}"
        target.mkdir()
        return timed(
            lambda: subprocess.run(["tar", "-xzf", str(archive), "-C", str(target)], check=True)
        )

    def unpack(n: int) -> float:
        return timed(lambda: PackageCache(base / f"cache-{n}").fetch(location))

    methods: set[str] = set()

    def instances(count: int, n: int, mode: CopyMode = "auto") -> float:
        run_config = config.with_overrides(state_dir=base / f"state-{mode}-{count}-{n}")
        job = storage(run_config, task, copy_mode=mode)
        prepared: list[Any] = []
        seconds = timed(lambda: prepared.extend(job.prepare("t", i, 0) for i in range(count)))
        if mode == "auto":
            methods.update(str(attempt.package_copy) for attempt in prepared)
        for attempt in prepared:
            job.finish(attempt)
        return seconds

    task = {"Parameters": {"Command": {"CommandLine": "true", "PackagePath": location.url}}}
    tar_s = statistics.median(system_tar(n) for n in range(rounds))
    ours_s = statistics.median(unpack(n) for n in range(rounds))
    samples: dict[tuple[CopyMode, int], list[float]] = {
        (mode, count): [] for mode in ("auto", "link") for count in (1, 16)
    }
    for n in range(rounds + 6):  # interleaved, so disk state drifts evenly over all four
        keys = list(samples) if n % 2 else list(reversed(samples))
        for mode, count in keys:
            samples[mode, count].append(instances(count, n, mode))
    median = {key: statistics.median(values) for key, values in samples.items()}
    one, sixteen = median["auto", 1], median["auto", 16]
    link_one, link_sixteen = median["link", 1], median["link", 16]
    auto_methods = sorted(methods)
    sixteen_copy = instances(16, 0, "copy")
    warm = warm_prepare(config, task)
    return {
        "package_bytes": archive.stat().st_size,
        "tar_xzf_seconds": round(tar_s, 3),
        "unpack_seconds": round(ours_s, 3),
        "unpack_vs_tar_ratio": round(ours_s / tar_s, 3),
        "unpack_target": "<= 1.2",
        "auto_copies": auto_methods,
        "one_instance_seconds": round(one, 3),
        "sixteen_instances_seconds": round(sixteen, 3),
        "sixteen_vs_one_ratio": round(sixteen / one, 3),
        "per_extra_instance_ms": round((sixteen - one) / 15 * 1000, 2),
        "sixteen_target": "<= 1.3",
        "sixteen_vs_one_ratio_link_mode": round(link_sixteen / link_one, 3),
        "per_extra_instance_ms_link_mode": round((link_sixteen - link_one) / 15 * 1000, 2),
        "sixteen_instances_copy_mode_seconds": round(sixteen_copy, 3),
        "sixteen_vs_one_ratio_copy_mode": round(sixteen_copy / one, 3),
        **warm,
    }


def warm_prepare(config: Config, task: dict[str, Any], rounds: int = 48) -> dict[str, Any]:
    """One more instance's `prepare()` once the package is cached: auto vs link (medians of
    interleaved runs; each attempt finished, untimed, before the next)."""
    jobs = {
        mode: storage(
            config.with_overrides(state_dir=config.state_dir / f"warm-{mode}"), task, copy_mode=mode
        )
        for mode in ("auto", "link")
    }
    samples: dict[str, list[float]] = {mode: [] for mode in jobs}
    for n in range(rounds + 1):
        for mode in jobs if n % 2 else reversed(jobs):
            started = time.perf_counter()
            prepared = jobs[mode].prepare("t", n, 0)
            if n:  # the first round unpacks the package
                samples[mode].append(time.perf_counter() - started)
            jobs[mode].finish(prepared)
    auto, link = statistics.median(samples["auto"]), statistics.median(samples["link"])
    return {
        "warm_prepare_ms": round(auto * 1000, 2),
        "warm_prepare_ms_link_mode": round(link * 1000, 2),
        "warm_prepare_auto_vs_link_ratio": round(auto / link, 3),
    }


def main() -> dict[str, Any]:
    base = Path(
        tempfile.mkdtemp(prefix="lb-bench-storage-", dir=os.environ.get("LOCALBATCH_BENCH_DIR"))
    )
    try:
        return {
            "inputs": bench_inputs(base / "inputs"),
            "outputs": bench_outputs(base / "outputs"),
            "package": bench_package(base / "package"),
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
