"""What an attempt used, measured on each real runtime: memory held, an OOM kill, CPU
throttling under a smaller limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localbatch.runtime.sandbox_memory import RlimitMemory

from .conftest import Harness

#: Holds about 100 MB (touched, so it is resident) for two seconds.
HOLD_100MB = (
    "b = bytearray(100 * 2**20)\nb[:: 4096] = b'x' * (len(b) // 4096)\nimport time\ntime.sleep(2)"
)
#: Two processes busy for three seconds each: a program that wants two cores. Against a
#: tenth of a core it is throttled even when other work on the machine leaves it little.
TWO_CORES_BUSY = (
    "import os, time\n"
    "for _ in range(2):\n"
    "    if os.fork() == 0:\n"
    "        end = time.time() + 3\n"
    "        while time.time() < end: pass\n"
    "        os._exit(0)\n"
    "os.wait(); os.wait()\n"
)
#: Writes 200 MB to a file (page cache charged to the attempt) and then holds little.
WRITE_200MB_FILE = (
    "import os, time\n"
    "with open('/tmp/cache', 'wb') as f:\n"
    "    for _ in range(200):\n"
    "        f.write(os.urandom(10**6))\n"
    "    f.flush(); os.fsync(f.fileno())\n"
    "time.sleep(1.5)"
)
MB = 10**6


def test_peak_memory_of_a_program_holding_100_mb(harness: Harness) -> None:
    outcome = harness.run(harness.spec("python3", "-c", HOLD_100MB, memory_bytes=512 * 2**20))
    assert outcome.succeeded, harness.stderr.read_text()
    usage = outcome.usage
    assert usage is not None and usage.measured, usage
    assert usage.peak_memory_bytes is not None
    assert 100 * MB * 0.8 <= usage.peak_memory_bytes <= 100 * MB * 1.2 + 20 * MB, usage
    assert usage.cpu_seconds is not None and usage.cpu_seconds > 0
    assert usage.oom_killed is False
    assert usage.memory_limit_bytes == 512 * 2**20 and usage.cpu_limit_cores == 1.0


def test_docker_peak_memory_is_the_working_set_without_page_cache(
    docker_runtime: Any, default_image: str, tmp_path: Path
) -> None:
    """As docker stats: the 200 MB of file cache the program wrote is not its memory."""
    (tmp_path / "workdir").mkdir()
    harness = Harness(docker_runtime, default_image, tmp_path)
    outcome = harness.run(harness.spec("python3", "-c", WRITE_200MB_FILE, memory_bytes=2**30))
    assert outcome.succeeded, harness.stderr.read_text()
    usage = outcome.usage
    assert usage is not None and usage.measured and usage.peak_memory_bytes is not None, usage
    assert usage.peak_memory_bytes < 100 * MB, usage
    assert "working set" in usage.note


def test_an_oom_killed_attempt_is_flagged(harness: Harness) -> None:
    # A second before it allocates: the swarm runtime finds a task's cgroup once its node
    # reported it running, a fraction of a second after it started.
    program = (
        "import time\ntime.sleep(1)\n"
        "b = bytearray(400 * 2**20)\nb[:: 4096] = b'x' * (len(b) // 4096)"
    )
    if isinstance(getattr(harness.runtime, "memory", None), RlimitMemory):
        pytest.skip("no memory cgroup here: RLIMIT_AS makes the allocation fail instead")
    outcome = harness.run(harness.spec("python3", "-c", program, memory_bytes=128 * 2**20))
    assert outcome.error_code == "OutOfMemory"
    usage = outcome.usage
    assert usage is not None and usage.oom_killed is True
    assert usage.peak_memory_bytes is not None and usage.peak_memory_bytes >= 128 * 2**20 * 0.9


def test_a_two_core_program_on_a_tenth_of_a_core_is_throttled(harness: Harness) -> None:
    describe = getattr(harness.runtime, "describe", None)
    if describe is not None and "CPU via CPU affinity" in describe():
        pytest.skip(f"no CPU quota cgroup here ({describe()})")
    outcome = harness.run(harness.spec("python3", "-c", TWO_CORES_BUSY, cpu_cores=0.1))
    assert outcome.succeeded, harness.stderr.read_text()
    usage = outcome.usage
    assert usage is not None
    assert usage.throttled is True and usage.throttled_seconds > 0, usage
    assert usage.cpu_seconds is not None and usage.cpu_seconds > 0.1


def test_a_one_core_program_within_its_limit_is_not_throttled(harness: Harness) -> None:
    busy = "import time\nend = time.time() + 1\nwhile time.time() < end: pass"
    outcome = harness.run(harness.spec("python3", "-c", busy, cpu_cores=2.0))
    assert outcome.succeeded
    assert outcome.usage is not None and outcome.usage.throttled is not True, outcome.usage
