"""The event recorder keeps what the store refuses (full, read-only) and writes it, in
order, once the store takes writes again; what is still waiting at close is said."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from localbatch.events import Event
from localbatch.states import State
from localbatch.store.recorder import EventRecorder
from localbatch.unwritable import StoreUnwritable


class FlakyStore:
    """Refuses every write while `full` is set; records what it accepted, in order."""

    def __init__(self) -> None:
        self.full = threading.Event()
        self.recorded: list[str] = []

    def on_event(self, event: Event) -> None:
        if self.full.is_set():
            raise StoreUnwritable(Path("/state"), "no space left on device")
        self.recorded.append(event.name)


def _event(name: str) -> Event:
    return Event(name, "job-1", State.RUNNING, 1.0, "Job")


def test_refused_events_are_written_in_order_once_space_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore()
    recorder = EventRecorder(store, retry_every=0.05)  # type: ignore[arg-type]
    recorder(_event("a"))
    store.full.set()
    recorder(_event("b"))
    recorder(_event("c"))
    assert store.recorded == ["a"] and recorder.pending == 2
    assert recorder.failure is not None and recorder.failure.full
    store.full.clear()
    for _ in range(200):  # the retry thread writes them without a new event
        if not recorder.pending:
            break
        threading.Event().wait(0.02)
    assert store.recorded == ["a", "b", "c"]
    recorder(_event("d"))
    assert store.recorded == ["a", "b", "c", "d"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("events are kept" in m for m in messages) == 1  # said once per outage
    assert sum("records again" in m for m in messages) == 1
    recorder.close()


def test_what_is_still_refused_at_close_is_said(caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore()
    store.full.set()
    recorder = EventRecorder(store, retry_every=60)  # type: ignore[arg-type]
    recorder(_event("a"))
    recorder.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "job-1" in errors[0] and "recovers" in errors[0]


def test_other_failures_are_not_kept() -> None:
    class Broken(FlakyStore):
        def on_event(self, event: Event) -> None:
            if event.name == "bad":
                raise ValueError("a bug, not a full disk")
            super().on_event(event)

    store = Broken()
    recorder = EventRecorder(store)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        recorder(_event("bad"))
    recorder(_event("good"))
    assert store.recorded == ["good"] and recorder.pending == 0
