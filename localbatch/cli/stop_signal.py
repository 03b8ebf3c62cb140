"""Signals of the foreground commands: blocking until a server is asked to stop, SIGTERM
taken as Ctrl-C, stopping a job on Ctrl-C (and killing it on the second), and clean-ups no
further signal can cut short."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localbatch.application.stack import LocalService
    from localbatch.states import State


def wait_for_stop_signal() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM: both are a normal way to stop a server, so
    neither becomes a KeyboardInterrupt traceback; the previous handlers are restored."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(3600):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (and `localbatch stop` from another process) ends a foreground run like
    Ctrl-C, so both take the same clean-up path."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def close_uninterrupted(close: Callable[[], None]) -> None:
    """Run a clean-up to its end: a further Ctrl-C or SIGTERM would leave containers or
    sandboxes behind."""
    with contextlib.suppress(KeyboardInterrupt), _signals_ignored():
        close()


def stop_on_interrupt(local: LocalService, job_id: str, say: Callable[[str], None]) -> State | None:
    """After Ctrl-C (or SIGTERM): stop the job, say what that does, and wait until it really
    ended. A second Ctrl-C kills what still runs and waits again; a third gives up waiting
    (closing the stack still stops and removes everything). The job's final state, or None
    when it was not waited for."""
    from localbatch.application.foreground import begin_stop, kill_now, wait_for_stop

    stopping = begin_stop(local, job_id)
    if stopping.running:
        them = "it" if stopping.running == 1 else "them"
        say(
            f"interrupted: stopping {_instances(stopping.running)} (SIGTERM; killed in "
            f"{stopping.grace:g} s); Ctrl-C again kills {them} now"
        )
    else:
        say("interrupted: stopping the job (no instance is running)")
    try:
        return wait_for_stop(local, job_id)
    except KeyboardInterrupt:
        pass
    running = kill_now(local, job_id)
    say(f"interrupted again: killing {_instances(running)} now")
    try:
        return wait_for_stop(local, job_id)
    except KeyboardInterrupt:
        say("interrupted a third time: not waiting for the job to end")
        return None


def _instances(count: int) -> str:
    return f"{count} instance" if count == 1 else f"{count} instances"
