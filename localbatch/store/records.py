"""What the store answers: plain frozen records, one per row kind, and a page of them.

The server and the CLI shape these for their own output; nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from localbatch.events import AttemptSnapshot, EventDetail
from localbatch.states import State

T = TypeVar("T")


@dataclass(frozen=True)
class Counts:
    """How many tasks or instances are in each state (the API's *Metrics objects)."""

    by_state: Mapping[State, int] = field(default_factory=dict)

    def of(self, state: State) -> int:
        return self.by_state.get(state, 0)


@dataclass(frozen=True)
class JobRecord:
    id: str
    name: str
    owner: str
    priority: int
    state: State
    message: str
    creation_time: float
    start_time: float | None
    end_time: float | None
    task_counts: Counts
    instance_counts: Counts
    #: Who runs the job: "<pid>:<process start time>" of the process holding its engine.
    runner: str = ""
    #: 0 for the first run, +1 for each restart or recovery.
    run: int = 0


@dataclass(frozen=True)
class TaskRecord:
    job_id: str
    name: str
    state: State
    start_time: float | None
    end_time: float | None
    instance_counts: Counts
    instance_count: int = 0
    #: The state of its instances nothing happened to yet (store/instance_rows.py).
    idle_state: State = State.WAITING


@dataclass(frozen=True)
class InstanceRecord:
    job_id: str
    task_name: str
    instance_id: int
    state: State
    start_time: float | None
    end_time: float | None
    retry_count: int
    attempt: int | None
    exit_code: int | None
    error_code: str
    error_message: str
    #: Extras from the engine: runtime ref, log object paths, progress, node address.
    detail: EventDetail = field(default_factory=lambda: EventDetail())


@dataclass(frozen=True, kw_only=True)
class AttemptRecord(AttemptSnapshot):
    """An attempt as the store keeps it: the engine's snapshot of it, placed in its job,
    task, instance and run. What an earlier localbatch did not record is None ("" for the
    capacity wait's reason)."""

    job_id: str
    task_name: str
    instance_id: int
    #: Which run of the job (0, then +1 per restart or recovery) the attempt belongs to.
    run: int


@dataclass(frozen=True)
class EventRecord:
    #: Increasing position in the store; `events(job, after=seq)` continues from it.
    seq: int
    job_id: str
    name: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    #: Where the next page starts; "" on the last page (clients loop while it is truthy).
    next_marker: str = ""
