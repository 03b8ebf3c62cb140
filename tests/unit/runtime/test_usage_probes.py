"""Reading cgroups (both versions) and the probes run_attempt samples."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from localbatch.runtime.base import run_attempt
from localbatch.runtime.cgroups import (
    CgroupDirs,
    Counters,
    controller_dirs,
    membership,
    mounts,
    read_counters,
)
from localbatch.runtime.docker import DockerHandle, DockerRuntime
from localbatch.runtime.fake import FakeRuntime, FakeStep
from localbatch.runtime.usage import (
    ENDED_TOO_SOON,
    CgroupProbe,
    ProcessTreeProbe,
    sample_until,
)

from .test_fake import spec

MOUNTS_V1 = """tmpfs /sys/fs/cgroup tmpfs rw 0 0
cgroup {root}/cpu cgroup rw,relatime,cpu 0 0
cgroup {root}/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup {root}/memory cgroup rw,relatime,memory 0 0
cgroup2 {root}/unified cgroup2 rw,relatime 0 0
"""
PROC_V1 = "4:memory:/docker/abc\n2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n0::/docker/abc\n"


def test_mounts_and_membership() -> None:
    found = mounts(MOUNTS_V1.format(root="/c"))
    assert found == {
        "cpu": (1, Path("/c/cpu")),
        "cpuacct": (1, Path("/c/cpuacct")),
        "memory": (1, Path("/c/memory")),
        "": (2, Path("/c/unified")),
    }
    assert membership(PROC_V1) == {
        "memory": "docker/abc",
        "cpuacct": "docker/abc",
        "cpu": "docker/abc",
        "": "docker/abc",
    }
    together = mounts("cgroup /c/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n")
    assert together["cpu"] == together["cpuacct"] == (1, Path("/c/cpu,cpuacct"))


def _write(directory: Path, **files: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name.replace("__", ".")).write_text(text)


def test_v1_counters(tmp_path: Path) -> None:
    for controller in ("memory", "cpu", "cpuacct"):
        (tmp_path / controller / "docker" / "abc").mkdir(parents=True)
    cgroup = controller_dirs(MOUNTS_V1.format(root=tmp_path), PROC_V1)
    assert cgroup is not None and cgroup.version == 1 and cgroup.source == "cgroup v1"
    assert read_counters(cgroup).cpu_seconds is None  # files not there (yet)
    _write(
        tmp_path / "memory/docker/abc",
        memory__max_usage_in_bytes="1048576\n",
        memory__usage_in_bytes="4096\n",
        memory__stat="cache 3072\ninactive_file 512\ntotal_inactive_file 1024\n",
        memory__oom_control="oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    )
    _write(tmp_path / "cpuacct/docker/abc", cpuacct__usage="2500000000\n")
    _write(tmp_path / "cpu/docker/abc", cpu__stat="nr_periods 10\nthrottled_time 500000000\n")
    counters = read_counters(cgroup)
    assert counters.peak_memory_bytes == 1048576 and counters.memory_bytes == 4096
    # The hierarchy's inactive file cache (total_), as docker stats takes it on v1.
    assert counters.inactive_file_bytes == 1024 and counters.working_set_bytes == 3072
    assert counters.cpu_seconds == 2.5 and counters.throttled_seconds == 0.5
    assert counters.oom_kills == 2


def test_v2_counters(tmp_path: Path) -> None:
    directory = tmp_path / "unified" / "user.slice" / "app"
    _write(
        directory,
        memory__current="100\n",
        memory__peak="300\n",
        memory__stat="anon 40\nfile 60\ninactive_file 35\nactive_file 25\n",
        memory__events="low 0\noom 1\noom_kill 1\n",
        cpu__stat="usage_usec 1500000\nnr_throttled 3\nthrottled_usec 250000\n",
    )
    cgroup = controller_dirs(f"cgroup2 {tmp_path}/unified cgroup2 rw 0 0\n", "0::/user.slice/app\n")
    assert cgroup is not None and cgroup.version == 2
    counters = read_counters(cgroup)
    assert (counters.peak_memory_bytes, counters.memory_bytes) == (300, 100)
    assert (counters.inactive_file_bytes, counters.working_set_bytes) == (35, 65)
    assert (counters.cpu_seconds, counters.throttled_seconds) == (1.5, 0.25)
    assert counters.oom_kills == 1


def test_no_cgroup_with_memory_is_none() -> None:
    assert controller_dirs("proc /proc proc rw 0 0\n", "0::/\n") is None


def test_a_cgroup_probe_keeps_the_last_reading_once_the_cgroup_is_gone(tmp_path: Path) -> None:
    directory = tmp_path / "cg"
    _write(directory, memory__current="100\n", cpu__stat="usage_usec 1000000\n")
    probe = CgroupProbe(CgroupDirs(2, dict.fromkeys(("memory", "cpu", "cpuacct"), directory)),
                        512, 1.0, outlives_attempt=False)  # fmt: skip
    probe.sample()
    _write(directory, memory__current="50\n", cpu__stat="usage_usec 3000000\n")
    probe.sample()
    for name in list(directory.iterdir()):
        name.unlink()
    probe.sample()  # gone: keeps the last reading
    usage = probe.finish(oom_killed=False)
    assert usage.cpu_seconds == 3.0 and usage.peak_memory_bytes == 100  # the highest seen
    assert usage.throttled_seconds is None and usage.oom_killed is False
    killed = probe.finish(oom_killed=True)
    assert killed.oom_killed and killed.peak_memory_bytes == 512  # killed at its limit


@pytest.mark.parametrize(
    ("current", "inactive", "working_set"),
    [(100, 30, 70), (100, None, 100), (100, 100, 100), (100, 150, 100), (None, 30, None)],
)
def test_the_working_set_leaves_the_inactive_file_cache_out_as_docker_stats_does(
    current: int | None, inactive: int | None, working_set: int | None
) -> None:
    counters = Counters(memory_bytes=current, inactive_file_bytes=inactive)
    assert counters.working_set_bytes == working_set


def test_a_working_set_probe_peaks_at_the_largest_working_set_read(tmp_path: Path) -> None:
    """A program that wrote 900 of cache and holds 200: the kernel's high-water mark says
    1100, the working set 200 (the highest read: 250)."""
    directory = tmp_path / "cg"
    dirs = CgroupDirs(2, dict.fromkeys(("memory", "cpu", "cpuacct"), directory))
    readings = [(300, 50), (1100, 850), (1000, 800)]
    _write(directory, memory__peak="1100\n", cpu__stat="usage_usec 1\n")
    working, high_water = (
        CgroupProbe(dirs, 4096, 1.0, outlives_attempt=False, working_set=True),
        CgroupProbe(dirs, 4096, 1.0, outlives_attempt=False),
    )
    for current, inactive in readings:
        _write(directory, memory__current=f"{current}\n",
               memory__stat=f"inactive_file {inactive}\n")  # fmt: skip
        working.sample()
        high_water.sample()
    assert working.finish(oom_killed=False).peak_memory_bytes == 250
    assert high_water.finish(oom_killed=False).peak_memory_bytes == 1100
    assert working.finish(oom_killed=True).peak_memory_bytes == 4096  # killed at its limit


def test_docker_measures_a_containers_working_set(tmp_path: Path) -> None:
    cgroup = CgroupDirs(1, {"memory": tmp_path})
    handle = DockerHandle("c-1", pid=1, cgroup=cgroup)
    probe = DockerRuntime(client=object()).usage_probe(handle, 0, 1.0)  # type: ignore[arg-type]
    assert isinstance(probe, CgroupProbe) and probe.working_set
    assert "working set" in probe.note and "inactive file cache" in probe.note


def test_a_cgroup_never_read_is_said_so(tmp_path: Path) -> None:
    dirs = CgroupDirs(1, {"memory": tmp_path / "gone"})
    usage = CgroupProbe(dirs, 0, 1.0, outlives_attempt=False).finish(oom_killed=False)
    assert not usage.measured and usage.note == ENDED_TOO_SOON


def test_a_cgroup_that_outlives_the_attempt_is_read_at_the_end(tmp_path: Path) -> None:
    directory = tmp_path / "cg"
    _write(directory, memory__peak="10\n", memory__current="1\n", cpu__stat="usage_usec 1\n")
    dirs = CgroupDirs(2, dict.fromkeys(("memory", "cpu", "cpuacct"), directory))
    probe = CgroupProbe(dirs, 0, 1.0, outlives_attempt=True)
    probe.sample()
    _write(directory, memory__peak="999\n", cpu__stat="usage_usec 2000000\n")
    usage = probe.finish(oom_killed=False)
    assert usage.peak_memory_bytes == 999 and usage.cpu_seconds == 2.0


def test_the_process_tree_probe_measures_this_process() -> None:
    probe = ProcessTreeProbe(os.getpid(), 0, 1.0, "pinned")
    probe.sample()
    usage = probe.finish(oom_killed=False)
    assert usage.source == "process tree (psutil)" and "pinned" in usage.note
    assert usage.peak_memory_bytes and usage.peak_memory_bytes > 1_000_000
    assert usage.cpu_seconds is not None and usage.cpu_seconds > 0
    assert usage.throttled is None
    assert ProcessTreeProbe(2**22 + 1, 0, 1.0).finish(False).cpu_seconds is None  # never seen


def test_sampling_is_due_once_per_interval() -> None:
    now = [0.0]
    samples: list[float] = []

    class Probe:
        interval = 1.0

        def sample(self) -> None:
            samples.append(now[0])

    tick = sample_until(Probe(), lambda: now[0])  # type: ignore[arg-type]
    assert tick() == 1.0 and samples == [0.0]
    now[0] = 0.4
    assert tick() == 0.6 and samples == [0.0]
    now[0] = 1.0
    assert tick() == 1.0 and samples == [0.0, 1.0]


def test_run_attempt_puts_the_usage_into_the_outcome() -> None:
    runtime = FakeRuntime(FakeStep(usage={"peak_memory_bytes": 5, "cpu_seconds": 0.5}))
    outcome = run_attempt(runtime, spec(memory_bytes=64, cpu_cores=2.0), 5, threading.Event())
    assert outcome.usage is not None and outcome.usage.source == "fake"
    assert outcome.usage.peak_memory_bytes == 5 and outcome.usage.memory_limit_bytes == 64
    unmeasured = run_attempt(FakeRuntime(), spec(), 5, threading.Event())
    assert unmeasured.usage is not None and not unmeasured.usage.measured
    assert "runs nothing" in unmeasured.usage.note


class Broken(FakeRuntime):
    def usage_probe(self, handle: object, memory_limit: int, cpu_cores: float) -> CgroupProbe:
        raise OSError("no /proc here")


def test_a_runtime_whose_probe_fails_still_runs_the_attempt() -> None:
    outcome = run_attempt(Broken(), spec(), 5, threading.Event())
    assert outcome.succeeded and outcome.usage is not None and not outcome.usage.measured
    assert "does not measure" in outcome.usage.note
