"""Memory limit detection and the cgroup files it reads and writes."""

from __future__ import annotations

from pathlib import Path

from localbatch.runtime.sandbox_memory import (
    PREFIX,
    V1,
    V2,
    CgroupMemory,
    RlimitMemory,
    _own_cgroup,
    detect_memory_limiter,
)
from tests.unit.runtime.specs import dead_pid

PROC_CGROUP_V1 = "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n"


def test_own_cgroup_per_version() -> None:
    assert _own_cgroup(1, PROC_CGROUP_V1) == "process_api/abc"
    assert _own_cgroup(2, "0::/user.slice/app.scope\n") == "user.slice/app.scope"
    assert _own_cgroup(1, "0::/\n") == ""


def test_limit_written_and_oom_read(tmp_path: Path) -> None:
    limiter = CgroupMemory(tmp_path, V2)
    # A plain directory stands in for cgroupfs: the files exist once written.
    scope = limiter.create(100)
    assert scope.cgroup is not None
    assert (scope.cgroup / "memory.max").read_text() == "100"
    assert not limiter.oom_killed(scope)
    (scope.cgroup / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    assert limiter.oom_killed(scope)
    for child in scope.cgroup.iterdir():
        child.unlink()
    limiter.remove(scope)
    assert not scope.cgroup.exists()


def test_a_busy_cgroup_is_removed_once_released(tmp_path: Path) -> None:
    limiter = CgroupMemory(tmp_path, V1)
    scope = limiter.create(100)
    assert scope.cgroup is not None
    # A plain directory holding files stands in for a cgroup whose processes linger.
    limiter.remove(scope)  # busy: handed to the reaper, no exception, no waiting
    assert scope.cgroup.exists()
    for child in scope.cgroup.iterdir():
        child.unlink()
    limiter.wait_removed()
    assert not scope.cgroup.exists()


def test_no_cgroup_mount_falls_back_to_rlimit(tmp_path: Path) -> None:
    limiter = detect_memory_limiter(tmp_path)
    assert isinstance(limiter, RlimitMemory)
    assert "RLIMIT_AS" in limiter.description


def test_stale_cgroups_of_dead_owners_are_removed(tmp_path: Path) -> None:
    limiter = CgroupMemory(tmp_path, V2)
    mine = limiter.create(100)
    assert mine.cgroup is not None
    for child in mine.cgroup.iterdir():
        child.unlink()
    dead = tmp_path / f"{PREFIX}{dead_pid()}-abc"
    dead.mkdir()
    unrelated = tmp_path / "other-cgroup"
    unrelated.mkdir()
    assert limiter.remove_stale() == [dead]
    assert mine.cgroup.exists() and unrelated.exists()
