"""bubblewrap specifics: the host stays untouched, namespaces, memory cgroups, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localbatch.runtime.base import RuntimeUnavailable
from localbatch.runtime.process import ProcessHandle, ProcessRuntime
from localbatch.runtime.sandbox_memory import CgroupMemory
from localbatch.storage.needs import Access, Need, NeedKind

from .conftest import Harness

pytestmark = pytest.mark.sandbox


@pytest.fixture
def sandbox(process_runtime: ProcessRuntime, tmp_path: Path) -> Harness:
    (tmp_path / "workdir").mkdir()
    return Harness(process_runtime, "", tmp_path)


def test_host_files_are_not_touched(sandbox: Harness) -> None:
    marker = f"localbatch-sandbox-{os.getpid()}"
    script = f"ls /batchcompute; echo x > /tmp/{marker}; echo y > /usr/{marker}"
    outcome = sandbox.run(sandbox.spec("sh", "-c", script))
    assert outcome.exit_code != 0  # /usr is read-only
    assert not Path("/tmp", marker).exists()  # /tmp is private to the sandbox
    assert not Path("/usr", marker).exists()
    assert not Path("/batchcompute").exists()
    assert sandbox.stdout.read_text() == "workdir\n"


def test_the_program_sees_only_its_own_processes(sandbox: Harness) -> None:
    outcome = sandbox.run(sandbox.spec("sh", "-c", "ls /proc | grep -c '^[0-9]'"))
    assert outcome.succeeded
    assert int(sandbox.stdout.read_text()) <= 4  # init, sh, ls, grep


def test_the_memory_cgroup_is_removed_after_the_attempt(
    process_runtime: ProcessRuntime, sandbox: Harness
) -> None:
    if not isinstance(process_runtime.memory, CgroupMemory):
        pytest.skip(f"no writable memory cgroup here ({process_runtime.describe()})")
    started = process_runtime.start(sandbox.spec("true", memory_bytes=64 * 2**20))
    assert isinstance(started, ProcessHandle)
    assert started.scope is not None and started.scope.cgroup is not None
    cgroup = started.scope.cgroup
    assert cgroup.is_dir()
    assert process_runtime.wait(started, 30) is not None
    process_runtime.release(started, keep=False)
    process_runtime.memory.wait_removed()
    assert not cgroup.exists()


def test_missing_bubblewrap_says_what_to_install(tmp_path: Path) -> None:
    runtime = ProcessRuntime()
    runtime.bwrap = None
    with pytest.raises(RuntimeUnavailable, match="apt-get install bubblewrap"):
        runtime.check()


def test_describe_names_the_tool_and_the_memory_limit(process_runtime: ProcessRuntime) -> None:
    text = process_runtime.describe()
    assert text.startswith("bubblewrap ")
    assert "memory limits via" in text


def test_a_sandbox_that_cannot_be_built_is_a_start_failure(
    sandbox: Harness, tmp_path: Path
) -> None:
    # /usr is read-only in the sandbox, so bwrap cannot create a mount point inside it.
    need = Need(NeedKind.INPUT, tmp_path, "/usr/localbatch-cannot-exist/", Access.READ_ONLY)
    outcome = sandbox.run(sandbox.spec("true", needs=(need,), memory_bytes=64 * 2**20))
    assert outcome.error_code == "InstanceStartFailed"
    assert outcome.error_message.startswith("The sandbox could not start: bwrap: ")


def test_a_cpu_quota_of_the_types_cores_is_applied_and_removed(
    process_runtime: ProcessRuntime, sandbox: Harness
) -> None:
    quota = process_runtime._quota()
    if quota is None:
        pytest.skip(f"no writable cpu cgroup here ({process_runtime.describe()})")
    started = process_runtime.start(sandbox.spec("true", cpu_cores=1.5))
    assert isinstance(started, ProcessHandle) and started.cpu_scope is not None
    assert started.cores is None  # a quota instead of pinning
    dirs = list(started.cpu_scope.dirs.values())
    assert (started.cpu_scope.dirs["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "150000"
    assert process_runtime.wait(started, 30) is not None
    process_runtime.release(started, keep=False)
    quota.remover.wait_removed()
    assert not any(directory.exists() for directory in dirs)


def test_the_program_gets_as_many_cores_as_its_type(sandbox: Harness) -> None:
    if sandbox.runtime.cpus.host_cores < 2:  # type: ignore[attr-defined]
        pytest.skip("one CPU: there is nothing to pin")
    if sandbox.runtime._quota() is not None:  # type: ignore[attr-defined]
        pytest.skip("a CPU quota limits the sandbox here, not pinning")
    count = "import os; print(len(os.sched_getaffinity(0)))"
    assert sandbox.run(sandbox.spec("python3", "-c", count, cpu_cores=1)).succeeded
    assert sandbox.run(sandbox.spec("python3", "-c", count, cpu_cores=64)).succeeded
    host = sandbox.runtime.cpus.host_cores  # type: ignore[attr-defined]
    assert sandbox.stdout.read_text().split() == ["1", str(host)]
