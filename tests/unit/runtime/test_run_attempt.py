"""run_attempt: the timeout, cancel and release rules every runtime shares."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from localbatch.runtime.base import AttemptHandle, AttemptSpec, run_attempt, uses_images
from localbatch.runtime.fake import FakeRuntime, FakeStep
from tests.unit.runtime.cluster_fake import ClusterFake
from tests.unit.runtime.specs import attempt_spec


def spec(keep: bool = False) -> AttemptSpec:
    return attempt_spec(keep_on_failure=keep)


def test_timeout_stops_and_fails_the_attempt() -> None:
    runtime = FakeRuntime(FakeStep(hang=True))
    outcome = run_attempt(runtime, spec(), 0.05, threading.Event(), grace=0.1, poll=0.01)
    assert outcome.error_code == "Timeout"
    assert "0.05" in outcome.error_message
    assert len(runtime.stopped) == 1
    assert runtime.released == [("fake-1", False)]


def test_cancel_stops_the_attempt_once_started() -> None:
    runtime = FakeRuntime(FakeStep(hang=True))
    cancel = threading.Event()
    handles: list[AttemptHandle] = []

    def started(handle: AttemptHandle) -> None:
        handles.append(handle)
        cancel.set()

    outcome = run_attempt(runtime, spec(), 60, cancel, on_started=started, grace=0.1)
    assert outcome.error_code == "Stopped"
    assert [h.ref for h in handles] == runtime.stopped


def test_a_failed_attempt_is_kept_only_when_asked() -> None:
    runtime = FakeRuntime(FakeStep(exit_code=2))
    run_attempt(runtime, spec(keep=True), 60, threading.Event())
    run_attempt(runtime, spec(keep=False), 60, threading.Event())
    ok = FakeRuntime(FakeStep(exit_code=0))
    run_attempt(ok, spec(keep=True), 60, threading.Event())
    assert [keep for _, keep in runtime.released] == [True, False]
    assert [keep for _, keep in ok.released] == [False]


def test_an_attempt_that_cannot_start_is_returned_as_is() -> None:
    step = FakeStep(exit_code=None, error_code="ImageNotFound", fails_to_start=True)
    runtime = FakeRuntime(step)
    outcome = run_attempt(runtime, spec(), 60, threading.Event())
    assert outcome.error_code == "ImageNotFound"
    assert runtime.released == []


def test_uses_images_defaults_to_true() -> None:
    class Plain:
        name = "plain"

    assert uses_images(FakeRuntime()) is False
    assert uses_images(Plain()) is True  # type: ignore[arg-type]


def test_a_failing_on_started_still_releases() -> None:
    runtime = FakeRuntime(FakeStep(hang=True))

    def broken(_: AttemptHandle) -> None:
        raise RuntimeError("listener failed")

    with pytest.raises(RuntimeError):
        run_attempt(runtime, spec(), 60, threading.Event(), on_started=broken)
    assert runtime.released == [("fake-1", False)]


def test_an_attempt_that_ended_at_the_deadline_is_not_a_timeout() -> None:
    gate = threading.Event()
    gate.set()  # ended by the time the deadline is looked at
    runtime = FakeRuntime(FakeStep(exit_code=0, gate=gate))
    outcome = run_attempt(runtime, spec(), 0, threading.Event())
    assert outcome.succeeded
    assert runtime.stopped == []


def test_an_attempt_waiting_for_a_node_says_why_and_its_timeout_waits_too() -> None:
    runtime = ClusterFake(FakeStep(duration=0.05))
    runtime.hold("no suitable node (insufficient resources on 1 node)")
    heard: list[str] = []
    started: list[str] = []

    def waiting(reason: str) -> None:
        heard.append(reason)
        if len(heard) == 1:  # placed once it said why, after longer than its Timeout
            threading.Timer(0.2, runtime.place).start()

    outcome = run_attempt(
        runtime, spec(), 0.1, threading.Event(), lambda h: started.append(h.ref), 0.01,
        on_waiting=waiting,
    )  # fmt: skip
    assert outcome.succeeded
    assert heard == ["no suitable node (insufficient resources on 1 node)"]
    assert started == ["fake-1"]


def test_an_attempt_stopped_while_it_waits_for_a_node_never_started() -> None:
    runtime = ClusterFake(FakeStep(hang=True))
    runtime.hold("no suitable node")
    cancel = threading.Event()
    started: list[AttemptHandle] = []
    outcome = run_attempt(
        runtime, spec(), 60, cancel, started.append, 0.01, 0.1, on_waiting=lambda _: cancel.set()
    )
    assert outcome.error_code == "Stopped" and "before it was placed" in outcome.error_message
    assert started == [] and runtime.stopped == ["fake-1"]
    assert runtime.released == [("fake-1", False)]


def _stop_when_started(cancel: threading.Event) -> Callable[[AttemptHandle], None]:
    def started(handle: AttemptHandle) -> None:
        cancel.set()

    return started


def test_a_program_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    runtime = FakeRuntime(FakeStep(hang=True, ignores_term=True))
    cancel, kill = threading.Event(), threading.Event()
    began = time.monotonic()
    outcome = run_attempt(
        runtime, spec(), 60, cancel, _stop_when_started(cancel), poll=0.01, grace=0.3, kill=kill
    )
    assert outcome.error_code == "Stopped"
    assert runtime.terminated == ["fake-1"] and runtime.stops == [("fake-1", 0)]
    assert time.monotonic() - began >= 0.3  # it had its grace period


def test_kill_cuts_the_grace_period_short() -> None:
    runtime = FakeRuntime(FakeStep(hang=True, ignores_term=True))
    cancel, kill = threading.Event(), threading.Event()
    threading.Timer(0.2, kill.set).start()
    outcome = run_attempt(
        runtime, spec(), 60, cancel, _stop_when_started(cancel), poll=0.01, grace=3600, kill=kill
    )
    assert outcome.error_code == "Stopped"
    assert runtime.terminated == ["fake-1"] and runtime.stops == [("fake-1", 0)]


def test_a_kill_asked_before_the_stop_sends_no_sigterm_first() -> None:
    runtime = FakeRuntime(FakeStep(hang=True, ignores_term=True))
    cancel, kill = threading.Event(), threading.Event()
    kill.set()
    run_attempt(runtime, spec(), 60, cancel, _stop_when_started(cancel), grace=3600, kill=kill)
    assert runtime.terminated == [] and runtime.stops == [("fake-1", 0)]
