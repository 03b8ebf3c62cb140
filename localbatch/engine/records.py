"""The engine's records of jobs, tasks and instances, and their frozen snapshots.

The `Tracked*` records are mutable and owned by the scheduler (one thread touches them);
snapshots are immutable copies handed to everyone else (progress display, run summary,
events). An attempt is a frozen `AttemptSnapshot` the scheduler replaces as it starts and
ends, as events carry it. They are not the store's rows (`localbatch.store.records`:
`JobRecord`, ...), which are frozen and read back from SQLite by any process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from localbatch.engine.capacity import Resources
from localbatch.events import AttemptSnapshot, CapacityWait, EventDetail
from localbatch.states import State


@dataclass(frozen=True)
class Metrics:
    """The five counts of the API's TaskMetrics / InstanceMetrics."""

    waiting: int = 0
    running: int = 0
    finished: int = 0
    failed: int = 0
    stopped: int = 0

    @classmethod
    def of(cls, counts: Counter[State]) -> Metrics:
        """From the state counts the scheduler keeps up to date (no scan of instances)."""
        return cls(
            waiting=counts[State.WAITING],
            running=counts[State.RUNNING],
            finished=counts[State.FINISHED],
            failed=counts[State.FAILED],
            stopped=counts[State.STOPPED],
        )

    def as_api(self) -> dict[str, int]:
        """The API's field names, as events and responses carry them."""
        return {
            "WaitingCount": self.waiting,
            "RunningCount": self.running,
            "FinishedCount": self.finished,
            "FailedCount": self.failed,
            "StoppedCount": self.stopped,
        }


@dataclass
class TrackedInstance:
    """One instance of a task as the scheduler tracks it, across all its attempts."""

    instance_id: int
    state: State = State.WAITING
    retry_count: int = 0
    start_time: float | None = None
    end_time: float | None = None
    attempts: list[AttemptSnapshot] = field(default_factory=list)
    #: Log object paths, local log files, runtime ref: whatever the driver reported.
    detail: EventDetail = field(default_factory=lambda: EventDetail())
    #: An attempt is in flight (capacity is held for it).
    launched: bool = False
    cancel_requested: bool = False
    #: Place in the ready queue; a retry keeps it, so it goes before later arrivals.
    queue_key: int = -1
    #: Ready but held back for capacity: since when and why (None when not waiting so).
    capacity_wait: CapacityWait | None = None

    @property
    def last(self) -> AttemptSnapshot | None:
        """The current (or final) attempt: it holds the instance's exit and error codes."""
        return self.attempts[-1] if self.attempts else None


@dataclass
class TaskInstances:
    """A task's instances, each recorded only once something happens to it.

    Until then an instance is *idle*: in `idle_state` (Waiting, or Stopped once its job
    wound down), with no attempt, retry or time. A task of 10,000 instances costs what its
    description costs until they run; only counts and events in batches speak for the idle
    ones (`InstanceBatch`).
    """

    count: int
    idle_state: State = State.WAITING
    #: The instances recorded so far, by id.
    records: dict[int, TrackedInstance] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, instance_id: int) -> TrackedInstance:
        """The instance's record, recorded from now on (an idle one starts as it was)."""
        record = self.records.get(instance_id)
        if record is None:
            if not 0 <= instance_id < self.count:
                raise IndexError(f"no instance {instance_id} of {self.count}")
            record = self.records[instance_id] = TrackedInstance(instance_id, self.idle_state)
        return record

    def tracked(self) -> list[TrackedInstance]:
        """The recorded instances, by id."""
        return [self.records[i] for i in sorted(self.records)]

    def idle_count(self) -> int:
        return self.count - len(self.records)

    def is_fresh(self, instance_id: int) -> bool:
        """Waiting and never queued: idle, or recorded but not queued yet (a retry left)."""
        record = self.records.get(instance_id)
        if record is None:
            return self.idle_state == State.WAITING
        return record.state == State.WAITING and not record.launched and record.queue_key < 0

    def fresh_count(self) -> int:
        idle = self.idle_count() if self.idle_state == State.WAITING else 0
        return idle + sum(1 for i in self.records if self.is_fresh(i))

    def view(self) -> Iterator[TrackedInstance]:
        """Every instance by id, the idle ones as copies nothing records (for snapshots)."""
        for instance_id in range(self.count):
            record = self.records.get(instance_id)
            yield record if record is not None else TrackedInstance(instance_id, self.idle_state)


@dataclass
class TrackedTask:
    """One task: its instances, its place in the DAG and its running counts."""

    name: str
    resources: Resources
    max_retry_count: int
    instances: TaskInstances
    upstream: frozenset[str]
    downstream: tuple[str, ...]
    state: State = State.WAITING
    start_time: float | None = None
    end_time: float | None = None
    #: Upstream tasks that have not finished yet.
    pending_upstream: int = 0
    #: False for tasks left out by `only`: they never run.
    selected: bool = True
    #: Instance states, kept up to date so metrics never need a full scan.
    counts: Counter[State] = field(default_factory=Counter)
    #: Retries used by all its instances.
    retries: int = 0
    detail: EventDetail = field(default_factory=lambda: EventDetail())
    #: Its fresh instances (queued together, never started) are ready but held back for
    #: capacity: since when and why.
    capacity_wait: CapacityWait | None = None


@dataclass
class TrackedJob:
    """One job: its tasks, counts and, once it winds down, the state it will end in."""

    job_id: str
    name: str
    priority: int
    seq: int
    fail_on_instance_fail: bool
    tasks: dict[str, TrackedTask]
    state: State = State.WAITING
    start_time: float | None = None
    end_time: float | None = None
    #: Set once the job is being stopped or failed: the state it ends in when nothing runs.
    ending: State | None = None
    message: str = ""
    in_flight: int = 0
    task_counts: Counter[State] = field(default_factory=Counter)
    instance_counts: Counter[State] = field(default_factory=Counter)
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstanceSnapshot:
    """An instance as it was at one moment; the last attempt's codes are copied up."""

    instance_id: int
    state: State
    retry_count: int
    start_time: float | None
    end_time: float | None
    exit_code: int | None
    error_code: str
    error_message: str
    attempts: tuple[AttemptSnapshot, ...]
    detail: EventDetail


@dataclass(frozen=True)
class TaskSnapshot:
    """A task as it was at one moment, with its instance metrics."""

    name: str
    state: State
    start_time: float | None
    end_time: float | None
    metrics: Metrics
    retries: int
    instances: tuple[InstanceSnapshot, ...]
    detail: EventDetail


@dataclass(frozen=True)
class JobSnapshot:
    """A job as it was at one moment: what the API and the run summary show."""

    job_id: str
    name: str
    state: State
    priority: int
    start_time: float | None
    end_time: float | None
    message: str
    task_metrics: Metrics
    instance_metrics: Metrics
    tasks: tuple[TaskSnapshot, ...]
    notices: tuple[str, ...]


def instance_snapshot(record: TrackedInstance) -> InstanceSnapshot:
    """A copy the scheduler's later changes cannot reach (attempts are frozen values)."""
    last = record.last
    return InstanceSnapshot(
        instance_id=record.instance_id,
        state=record.state,
        retry_count=record.retry_count,
        start_time=record.start_time,
        end_time=record.end_time,
        exit_code=last.exit_code if last else None,
        error_code=last.error_code if last else "",
        error_message=last.error_message if last else "",
        attempts=tuple(record.attempts),
        detail=record.detail.copy(),
    )


def task_snapshot(record: TrackedTask) -> TaskSnapshot:
    """A copy of the task and of each of its instances."""
    return TaskSnapshot(
        name=record.name,
        state=record.state,
        start_time=record.start_time,
        end_time=record.end_time,
        metrics=Metrics.of(record.counts),
        retries=record.retries,
        instances=tuple(instance_snapshot(i) for i in record.instances.view()),
        detail=record.detail.copy(),
    )


def job_snapshot(record: TrackedJob) -> JobSnapshot:
    """A copy of the whole job, safe to hand to another thread."""
    return JobSnapshot(
        job_id=record.job_id,
        name=record.name,
        state=record.state,
        priority=record.priority,
        start_time=record.start_time,
        end_time=record.end_time,
        message=record.message,
        task_metrics=Metrics.of(record.task_counts),
        instance_metrics=Metrics.of(record.instance_counts),
        tasks=tuple(task_snapshot(t) for t in record.tasks.values()),
        notices=record.notices,
    )
