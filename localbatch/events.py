"""Events: every state change of a job, task or instance, as the engine announces it.

The engine is the only producer. Listeners (the store, progress display, JSON-lines file,
webhook notifications) subscribe; a failing listener never breaks the engine (see
`EventBus`). Each event carries the entity's full new snapshot, so a listener can persist
it without asking the engine anything. Event names are the Notification event names of
semantics.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from localbatch.states import State

log = logging.getLogger(__name__)

JOB_EVENTS = ("OnJobWaiting", "OnJobRunning", "OnJobStopped", "OnJobFinished", "OnJobFailed")
TASK_EVENTS = ("OnTaskWaiting", "OnTaskRunning", "OnTaskStopped", "OnTaskFinished", "OnTaskFailed")
INSTANCE_EVENTS = (
    "OnInstanceWaiting",
    "OnInstanceRunning",
    "OnInstanceStopped",
    "OnInstanceFinished",
    "OnInstanceFailed",
)
ALL_EVENTS = (*JOB_EVENTS, *TASK_EVENTS, *INSTANCE_EVENTS, "OnPriorityChange")


def event_name(category: str, state: State) -> str:
    """`("Instance", State.FAILED)` -> "OnInstanceFailed"."""
    return f"On{category}{state.value}"


@dataclass(frozen=True)
class AttemptSnapshot:
    """One attempt of an instance, as the engine keeps it and instance events carry it: the
    store keeps one row per attempt from it, apart from the instance (whose next attempt
    may already wait)."""

    attempt: int
    #: Waiting while localbatch prepares it (never sent), Running once its program started,
    #: then how it ended: Finished, Failed or Stopped.
    state: State
    #: When its program started (when localbatch began preparing it, for one that never
    #: started); None when the event does not know it (the store keeps what it has).
    start_time: float | None = None
    end_time: float | None = None
    exit_code: int | None = None
    error_code: str = ""
    error_message: str = ""
    ref: str = ""
    #: Where its output begins in the instance's stdout and stderr files, which every
    #: attempt appends to; None when not known (it never started, or an older record).
    stdout_offset: int | None = None
    stderr_offset: int | None = None


@dataclass(frozen=True)
class Event:
    """One state change. Times are POSIX seconds (float); None when not reached yet."""

    name: str
    job_id: str
    state: State
    time: float
    #: "Job", "Task" or "Instance".
    category: str
    task_name: str | None = None
    instance_id: int | None = None
    start_time: float | None = None
    end_time: float | None = None
    #: Instance events: retries used so far, the attempt number (0-based) and its result.
    retry_count: int = 0
    attempt: int | None = None
    exit_code: int | None = None
    error_code: str = ""
    error_message: str = ""
    #: Instance events: the attempt that started or ended (or the instance's last one);
    #: None when no attempt is concerned (an instance waiting for its first).
    latest_attempt: AttemptSnapshot | None = None
    #: Free-form extras: runtime ref, log object paths, metrics, messages.
    detail: Mapping[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]


class EventBus:
    """Fan events out to listeners, in subscription order, isolating their failures."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def publish(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %s", listener, event.name)
