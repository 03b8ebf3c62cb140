"""The fake runtime follows its script and behaves like a runtime under run_attempt."""

from __future__ import annotations

import threading
from pathlib import Path

from localbatch.runtime.base import AttemptOutcome, AttemptSpec, run_attempt
from localbatch.runtime.fake import SIGTERM_EXIT, FakeRuntime, FakeStep
from localbatch.storage.needs import package_view


def spec(task: str = "t", instance: int = 0, attempt: int = 0, **kw: object) -> AttemptSpec:
    return AttemptSpec(
        job_id="job-1",
        task_name=task,
        instance_id=instance,
        attempt=attempt,
        argv=("true",),
        env={},
        needs=(package_view(Path("/tmp")),),
        **kw,  # type: ignore[arg-type]
    )


def test_most_specific_script_wins() -> None:
    rt = FakeRuntime()
    rt.script("t", FakeStep(exit_code=1))
    rt.script("t", FakeStep(exit_code=2), instance=1)
    rt.script("t", FakeStep(exit_code=3), instance=1, attempt=1)
    never = threading.Event()
    assert run_attempt(rt, spec(), 5, never).exit_code == 1
    assert run_attempt(rt, spec(instance=1), 5, never).exit_code == 2
    assert run_attempt(rt, spec(instance=1, attempt=1), 5, never).exit_code == 3
    assert run_attempt(rt, spec(task="other"), 5, never).succeeded
    assert len(rt.started) == 4 and len(rt.released) == 4 and not rt.running


def test_start_failure_is_an_outcome() -> None:
    rt = FakeRuntime(FakeStep(None, "ImageNotFound", "no such image", fails_to_start=True))
    outcome = run_attempt(rt, spec(), 5, threading.Event())
    assert outcome.error_code == "ImageNotFound" and not rt.released


def test_cancel_stops_a_hanging_attempt() -> None:
    rt = FakeRuntime(FakeStep(hang=True))
    cancel = threading.Event()
    result: list[AttemptOutcome] = []
    worker = threading.Thread(target=lambda: result.append(run_attempt(rt, spec(), 60, cancel)))
    worker.start()
    assert rt.wait_running(1)
    cancel.set()
    worker.join(10)
    assert result[0].error_code == "Stopped" and result[0].exit_code == SIGTERM_EXIT
    assert rt.stopped and not rt.running


def test_gate_holds_the_attempt_until_opened() -> None:
    gate = threading.Event()
    rt = FakeRuntime(FakeStep(exit_code=4, gate=gate))
    handle = rt.start(spec())
    assert not isinstance(handle, AttemptOutcome)
    assert rt.wait(handle, 0.01) is None
    gate.set()
    assert rt.wait(handle, 1) == AttemptOutcome(4)


def test_stdout_is_written_like_a_program_would(tmp_path: Path) -> None:
    rt = FakeRuntime(FakeStep(stdout="hello\n"))
    out = tmp_path / "stdout"
    run_attempt(rt, spec(stdout_path=out), 5, threading.Event())
    assert out.read_text() == "hello\n"
