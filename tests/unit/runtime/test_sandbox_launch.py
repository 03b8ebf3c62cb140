"""A sandbox that cannot be launched is a start failure that leaves no open fd behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from localbatch.runtime.process import ProcessRuntime

from .specs import attempt_spec


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    "failure", [OSError(13, "Permission denied"), subprocess.SubprocessError("preexec failed")]
)
@pytest.mark.parametrize("hold", [False, True])
def test_a_failed_launch_is_a_start_failure_and_closes_its_pipes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception, hold: bool
) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise failure

    monkeypatch.setattr(subprocess, "Popen", refuse)
    (tmp_path / "workdir").mkdir()
    spec = attempt_spec(
        workdir=tmp_path / "workdir", stdout_path=tmp_path / "out", stderr_path=tmp_path / "err"
    )
    before = _open_fds()
    outcome = ProcessRuntime._launch("/nonexistent/bwrap", spec, hold)
    assert not isinstance(outcome, tuple)
    assert outcome.error_code == "InstanceStartFailed"
    assert str(failure) in outcome.error_message
    assert _open_fds() == before
