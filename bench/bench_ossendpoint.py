"""Local OSS endpoint benchmarks, on loopback, with the real oss2 as the client.

The endpoint runs as its own process (`localbatch oss-serve`, signatures verified), so the
clients' Python does not share its interpreter. Each figure has a baseline from the same
run on the same disk:
- large objects: a 256 MiB PUT and GET (targets >= 200 MiB/s each), against writing the
  same bytes to a file with fsync (PUT) and reading the file back (GET) in this process;
- small objects: 1,000 PUTs of 4 KiB by 4 concurrent oss2 clients (target >= 300
  objects/s), against 4 threads writing the same files (temporary file, fsync, rename);
- memory: the server's resident memory while it receives and sends a 2 GiB object
  (target: flat, i.e. peak growth over idle well under the object, tens of MiB at most).
oss2's client-side CRC is off: it measures the client, not the endpoint. Data lives in a
temporary directory (`$LOCALBATCH_BENCH_DIR` or the system's), removed at the end. Run
alone with `.venv/bin/python -m bench.bench_ossendpoint`.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import oss2
import psutil

MIB = 1 << 20
LARGE = 256 * MIB
HUGE = 2048 * MIB
SMALL = 4096
SMALL_COUNT = 1000
CLIENTS = 4
KEY_ID, SECRET = "bench-akid", "bench-secret"
BUCKET = "bench"


@contextmanager
def endpoint_process(root: Path) -> Iterator[tuple[str, psutil.Process]]:
    """`localbatch oss-serve` on a free port: (url, its process)."""
    env = {
        **os.environ,
        "LOCALBATCH_CONFIG": str(root.parent / "none.toml"),
        "LOCALBATCH_ACCESS_KEY_ID": KEY_ID,
        "LOCALBATCH_ACCESS_KEY_SECRET": SECRET,
    }
    command = [sys.executable, "-m", "localbatch", "oss-serve", "--oss-root", str(root)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        match = re.search(r"(http://\S+)", server.stdout.readline())
        if not match:
            raise RuntimeError("oss-serve did not print its address")
        yield match.group(1), psutil.Process(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def bucket_at(url: str) -> oss2.Bucket:
    return oss2.Bucket(oss2.Auth(KEY_ID, SECRET), url, BUCKET, enable_crc=False)


class Chunks:
    """A file-like source of `size` bytes that never holds more than one chunk."""

    def __init__(self, size: int, chunk: bytes) -> None:
        self.remaining = size
        self.chunk = chunk

    def __len__(self) -> int:  # oss2 sends Content-Length when the body has a length
        return self.remaining

    def read(self, amount: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        count = min(self.remaining, len(self.chunk) if amount < 0 else amount, len(self.chunk))
        self.remaining -= count
        return self.chunk[:count]


def drain(bucket: oss2.Bucket, key: str) -> int:
    received = 0
    stream = bucket.get_object(key)
    while block := stream.read(MIB):
        received += len(block)
    return received


def rate(size: int, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return size / MIB / (time.perf_counter() - started)


def baseline_write(path: Path, size: int, chunk: bytes) -> None:
    with path.open("wb") as handle:
        for _ in range(size // len(chunk)):
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())


def baseline_read(path: Path) -> None:
    with path.open("rb") as handle:
        while handle.read(MIB):
            pass


def bench_large(url: str, scratch: Path) -> dict[str, Any]:
    bucket = bucket_at(url)
    chunk = os.urandom(MIB)
    local = scratch / "baseline.bin"
    disk_write = rate(LARGE, lambda: baseline_write(local, LARGE, chunk))
    disk_read = rate(LARGE, lambda: baseline_read(local))
    local.unlink()
    put = rate(LARGE, lambda: bucket.put_object("large.bin", Chunks(LARGE, chunk)))
    get = rate(LARGE, lambda: drain(bucket, "large.bin"))
    bucket.delete_object("large.bin")
    return {
        "put_256mib_mib_s": round(put),
        "get_256mib_mib_s": round(get),
        "baseline_fsync_write_mib_s": round(disk_write),
        "baseline_read_mib_s": round(disk_read),
        "put_ratio_vs_disk_write": round(put / disk_write, 2),
        "get_ratio_vs_file_read": round(get / disk_read, 2),
        "target": "put and get >= 200 MiB/s",
    }


def write_small_locally(directory: Path, name: str, data: bytes) -> None:
    temporary = directory / f".tmp-{uuid.uuid4().hex}"
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / name)


def bench_small(url: str, scratch: Path) -> dict[str, Any]:
    data = os.urandom(SMALL)
    clients = [bucket_at(url) for _ in range(CLIENTS)]
    names = [f"small/{n:04d}" for n in range(SMALL_COUNT)]
    local = scratch / "small"
    local.mkdir()

    def timed_pool(work: Callable[[int], object]) -> float:
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            started = time.perf_counter()
            list(pool.map(work, range(SMALL_COUNT)))
            return SMALL_COUNT / (time.perf_counter() - started)

    clients[0].put_object("warm-up", data)
    endpoint = timed_pool(lambda n: clients[n % CLIENTS].put_object(names[n], data))
    disk = timed_pool(lambda n: write_small_locally(local, f"{n:04d}", data))
    return {
        "small_puts_per_s": round(endpoint),
        "baseline_local_fsync_writes_per_s": round(disk),
        "ratio_vs_local_writes": round(endpoint / disk, 2),
        "objects": SMALL_COUNT,
        "clients": CLIENTS,
        "target": "small_puts_per_s >= 300",
    }


def peak_rss_during(process: psutil.Process, action: Callable[[], object]) -> int:
    peak = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        action()
    finally:
        done.set()
        sampler.join()
    return peak


def bench_memory(url: str, process: psutil.Process) -> dict[str, Any]:
    bucket = bucket_at(url)
    chunk = os.urandom(MIB)
    bucket.put_object("warm-up", chunk)  # first request's allocations are not the object's
    drain(bucket, "warm-up")
    idle = process.memory_info().rss
    put_peak = peak_rss_during(process, lambda: bucket.put_object("huge.bin", Chunks(HUGE, chunk)))
    get_peak = peak_rss_during(process, lambda: drain(bucket, "huge.bin"))
    bucket.delete_object("huge.bin")
    growth = max(put_peak, get_peak) - idle
    return {
        "object_mib": HUGE // MIB,
        "server_idle_rss_mib": round(idle / MIB, 1),
        "server_peak_rss_put_mib": round(put_peak / MIB, 1),
        "server_peak_rss_get_mib": round(get_peak / MIB, 1),
        "peak_growth_ratio_vs_object": round(growth / HUGE, 4),
        "target": "peak growth a few tens of MiB at most (flat), not the object's size",
    }


def main() -> dict[str, Any]:
    base = os.environ.get("LOCALBATCH_BENCH_DIR") or None
    with tempfile.TemporaryDirectory(prefix="localbatch-bench-oss-", dir=base) as tmp:
        scratch = Path(tmp)
        root = scratch / "oss"
        (root / BUCKET).mkdir(parents=True)
        with endpoint_process(root) as (url, process):
            return {
                "large": bench_large(url, scratch),
                "small": bench_small(url, scratch),
                "memory": bench_memory(url, process),
            }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
