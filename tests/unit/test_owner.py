"""Owner tags: a live process stays alive through a clock step, a reused pid does not."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psutil
import pytest

from localbatch import owner
from localbatch.runtime.docker import owner_alive, owner_labels
from localbatch.store.db import current_runner, runner_alive


def test_this_process_is_alive_and_another_start_mark_is_not() -> None:
    pid, _, mark = owner.this_process().partition("-")
    assert int(pid) == os.getpid() and owner.alive(owner.this_process())
    assert not owner.alive(f"{pid}-{int(mark) + 1}")
    assert not owner.alive("not-a-tag") and not owner.alive("")


def test_every_owner_record_survives_a_clock_step() -> None:
    tag, runner, labels = owner.this_process(), current_runner(), owner_labels()
    with pytest.MonkeyPatch.context() as patch:
        real = psutil.Process.create_time
        patch.setattr(psutil.Process, "create_time", lambda self: real(self) + 3600.0)
        assert owner.alive(tag)
        assert runner_alive(runner)
        assert owner_alive(labels)


def test_a_start_time_written_by_an_older_localbatch_is_still_understood() -> None:
    started = psutil.Process().create_time()
    assert owner.started_as(os.getpid(), f"{started:.3f}")
    assert runner_alive(f"{os.getpid()}:{started:.3f}")
    assert not owner.started_as(os.getpid(), f"{started - 10:.3f}")


def test_a_command_name_with_spaces_and_parentheses(tmp_path: Path) -> None:
    odd = tmp_path / "a) b ("
    shutil.copy(shutil.which("sleep") or "/bin/sleep", odd)
    process = subprocess.Popen([str(odd), "30"])
    try:
        mark = owner.start_mark(process.pid)
        assert mark.isdigit()
        assert owner.alive(f"{process.pid}-{mark}")
    finally:
        process.kill()
        process.wait()
    assert not owner.alive(f"{process.pid}-{mark}")
