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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TypedDict, cast

from localbatch.states import State
from localbatch.usage import ResourceUsage

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
#: localbatch's own event, not a service notification (no Topic can subscribe to it): an
#: instance is ready to start but held back because the capacity it needs is in use. The
#: instance stays Waiting; its detail's `capacity_wait` says since when and why, and the
#: attempt that starts it later records `capacity_wait_start`.
CAPACITY_WAIT_EVENT = "OnInstanceWaitingForCapacity"


def event_name(category: str, state: State) -> str:
    """`("Instance", State.FAILED)` -> "OnInstanceFailed"."""
    return f"On{category}{state.value}"


class UsageDetail(TypedDict):
    """An attempt's `ResourceUsage` as events list it."""

    source: str
    peak_memory_bytes: int | None
    cpu_seconds: float | None
    oom_killed: bool | None
    throttled_seconds: float | None
    memory_limit_bytes: int | None
    cpu_limit_cores: float | None
    note: str


class AttemptDetail(TypedDict):
    """One attempt of an instance as instance events list them (`attempts`): the fields of
    `AttemptSnapshot` (`AttemptSnapshot.as_detail`)."""

    attempt: int
    state: State
    start_time: float | None
    end_time: float | None
    exit_code: int | None
    error_code: str
    error_message: str
    ref: str
    stdout_offset: int | None
    stderr_offset: int | None
    #: `ResourceUsage`'s fields once it ended; None before, or when it never started.
    usage: UsageDetail | None
    launch_time: float | None
    capacity_wait_start: float | None
    capacity_wait_reason: str


class CapacityWait(TypedDict):
    """A ready instance held back for capacity: since when, and why ("needs 2 cores, 2 of
    this host's 2 in use"); what the scheduler (or a runtime placing it elsewhere) knows."""

    since: float
    reason: str


class EventDetail(TypedDict, total=False):
    """What an event carries beyond the entity's state and times: each key is optional, and
    the store keeps an instance's keys across its events (`Store.on_event`)."""

    # -- jobs
    name: str
    priority: int
    #: OnPriorityChange: the priority before the change.
    previous_priority: int
    #: Why a job or task ended as it did ("Not run: left out by --only.").
    message: str
    #: The API's TaskMetrics / InstanceMetrics of a job (a task has instance_metrics).
    task_metrics: dict[str, int]
    instance_metrics: dict[str, int]
    #: What this run does not do as the service would, said once with the job.
    notices: list[str]
    # -- tasks
    #: Retries used by all the task's instances.
    retries: int
    # -- instances: where it runs and where its logs go, known before it starts
    stdout_object: str
    stderr_object: str
    stdout_path: str
    stderr_path: str
    workdir: str
    runtime: str
    image: str
    #: The runtime's reference of the running attempt (container id, pid).
    ref: str
    #: Where the attempt's output begins in the instance's stdout and stderr files.
    stdout_offset: int
    stderr_offset: int
    #: Logs or outputs that could not be pushed after a failed attempt.
    storage_error: str
    attempts: list[AttemptDetail]
    #: Set while a ready instance is held back for capacity (`CAPACITY_WAIT_EVENT`), or
    #: while a cluster runtime finds no node for its attempt (in the cluster's own words:
    #: "no suitable node (insufficient resources on 1 node)"): since when and why. None
    #: once it runs or when it never waited.
    capacity_wait: CapacityWait | None
    #: The node of a cluster that runs (or ran) the instance's latest attempt.
    node: str
    #: The API's NodeIp and ResultDetail of an instance.
    node_ip: str
    result_detail: str


@dataclass(frozen=True)
class InstanceBatch:
    """The instances of one task an event speaks for at once: ids 0..count-1 but `exempt`
    (those reported one by one). Announcing 10,000 instances Waiting, or stopping the ones
    that never started, is then one event, not 10,000."""

    count: int
    exempt: frozenset[int] = frozenset()

    def ids(self) -> Iterator[int]:
        """The instance ids the batch covers, in order."""
        return (i for i in range(self.count) if i not in self.exempt)

    def size(self) -> int:
        return self.count - sum(1 for i in self.exempt if 0 <= i < self.count)


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
    #: What it used, as its runtime measured it; None until it ended (or never started).
    usage: ResourceUsage | None = None
    #: When localbatch began preparing it (its capacity held from then on).
    launch_time: float | None = None
    #: When it became ready but was held back for capacity (until `launch_time`); None when
    #: it was launched as soon as it was ready.
    capacity_wait_start: float | None = None
    #: Why it was held back ("needs 2 cores, 2 of this host's 2 in use"); "" when it was not.
    capacity_wait_reason: str = ""

    def as_detail(self) -> AttemptDetail:
        """Its fields as an event's detail lists them (stored as JSON)."""
        return cast(AttemptDetail, asdict(self))


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
    #: Extras: runtime ref, log object paths, metrics, messages.
    detail: EventDetail = field(default_factory=lambda: EventDetail())
    #: An instance event for many instances of `task_name` (then `instance_id` is None):
    #: each covered instance is in `state` afresh (Waiting: no attempt, times or result;
    #: Stopped: never started), with this event's error code and message.
    batch: InstanceBatch | None = None


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
