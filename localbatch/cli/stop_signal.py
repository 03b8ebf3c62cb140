"""Signals of the foreground commands: blocking until a server is asked to stop, SIGTERM
taken as Ctrl-C, and clean-ups no further signal can cut short."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType


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
