"""The scheduler: job, task and instance states, and what to do next. It does no I/O.

Each input (a job submitted, an attempt started or ended, a stop) updates the records and
answers a list of actions for the driver (`service.py`) to perform: launch an attempt,
cancel one, publish an event, announce that a job ended. Time comes in as an argument, so
tests drive it with any clock. The failure rules are those of semantics.md:

- an instance is retried `MaxRetryCount` times after a failure (a timeout is a failure);
  a job handed over after a crash may say how many retries an instance already used
  (`retries_used`): it gets only what is left, and one with nothing left stays Failed;
- `JobFailOnInstanceFail` true: the first instance failed for good fails its task; nothing
  new starts, running instances are cancelled (they end Stopped) and the job ends Failed
  once none runs any more;
- `JobFailOnInstanceFail` false: the task ends Finished counting its failures, downstream
  tasks run, the job ends Finished;
- stop: waiting instances end Stopped at once, running ones once their attempt returned;
  the job ends Stopped.

An instance that is ready (its task's upstream finished) but cannot start because the
capacity it needs is in use is *waiting for capacity*: the scheduler says so once, with
the time and the reason (`CAPACITY_WAIT_EVENT`), and the attempt that finally starts it
records since when it waited and why (`AttemptSnapshot.capacity_wait_start`, `_reason`).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from localbatch.engine.capacity import CapacityLedger, HostCapacity, Resources
from localbatch.engine.records import (
    JobSnapshot,
    Metrics,
    TaskInstances,
    TrackedInstance,
    TrackedJob,
    TrackedTask,
    job_snapshot,
)
from localbatch.events import (
    CAPACITY_WAIT_EVENT,
    AttemptSnapshot,
    CapacityWait,
    Event,
    EventDetail,
    InstanceBatch,
    event_name,
)
from localbatch.runtime.base import STOPPED_ERROR_CODE, AttemptOutcome
from localbatch.states import State, StateConflict, check_can_stop, check_transition


@dataclass(frozen=True)
class TaskPlan:
    """What the scheduler needs to know of one task."""

    name: str
    instance_count: int
    max_retry_count: int
    resources: Resources
    upstream: frozenset[str] = frozenset()
    downstream: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobPlan:
    """What the scheduler needs to know of one job (built by `service.job_plan`)."""

    job_id: str
    name: str
    #: In an order where upstream tasks come first.
    tasks: tuple[TaskPlan, ...]
    fail_on_instance_fail: bool = True
    priority: int = 0
    notices: tuple[str, ...] = ()


# Actions for the driver.
@dataclass(frozen=True)
class Launch:
    """Start this attempt; capacity is already held for it."""

    job_id: str
    task_name: str
    instance_id: int
    attempt: int


@dataclass(frozen=True)
class Cancel:
    """Stop the running attempt of this instance; its end comes back through `ended`."""

    job_id: str
    task_name: str
    instance_id: int


@dataclass(frozen=True)
class Publish:
    """Hand this event to the bus (store, notifications, progress)."""

    event: Event


@dataclass(frozen=True)
class JobEnded:
    """The job reached its final state: the driver releases its storage and wakes waiters."""

    job_id: str
    state: State


Action = Launch | Cancel | Publish | JobEnded


class _FreshCursor:
    """The fresh instances of a task queued at once: the ready queue holds only the next
    one (with the next of the queue keys reserved for them), not all 10,000."""

    def __init__(self, instances: TaskInstances) -> None:
        self.instances = instances
        self.position = 0

    def next_fresh(self) -> int | None:
        """The next fresh instance id, or None when none is left."""
        while self.position < self.instances.count:
            instance_id = self.position
            self.position += 1
            if self.instances.is_fresh(instance_id):
                return instance_id
        return None

    def __lt__(self, other: object) -> bool:  # keys are unique: never reached; never fails
        return False


#: A ready instance: (queue key, task name, instance id, the cursor it comes from, if any).
_Ready = tuple[int, str, int, _FreshCursor | None]


class Scheduler:
    """All job state of one engine; every method answers the actions it implies."""

    def __init__(self, capacity: HostCapacity) -> None:
        self.ledger = CapacityLedger(capacity)
        self.jobs: dict[str, TrackedJob] = {}
        self._ready: dict[str, dict[Resources, list[_Ready]]] = {}
        self._seq = 0
        self._queue_keys = 0
        self._actions: list[Action] = []
        #: Instances queued since the last dispatch: those it leaves queued wait for capacity.
        self._queued: list[tuple[TrackedJob, TrackedTask, _Ready]] = []

    # ----------------------------------------------------------------- inputs
    def submit(
        self,
        plan: JobPlan,
        now: float,
        *,
        only: Collection[str] | None = None,
        keep_finished: Mapping[str, Collection[int]] | None = None,
        priority: int | None = None,
        retries_used: Mapping[str, Mapping[int, int]] | None = None,
    ) -> list[Action]:
        """Queue a job (or re-run one that ended: only the instances not kept finished).

        `retries_used[task][instance]` is the RetryCount an instance starts with: its first
        attempt here is that retry. More than the task's MaxRetryCount leaves it Failed.
        """
        previous = self.jobs.get(plan.job_id)
        if previous is not None and not previous.state.terminal:
            raise StateConflict(previous.state)
        unknown = set(only or ()) - {t.name for t in plan.tasks}
        if unknown:
            raise ValueError(f"no such task in the job: {', '.join(sorted(unknown))}")
        self._seq += 1
        job = self._new_job(plan, only, keep_finished or {}, priority, retries_used or {})
        self.jobs[job.job_id] = job
        self._ready[job.job_id] = {}
        self._announce(job, now)
        self._fail_if_exhausted(job, now)
        for task in job.tasks.values():  # all instances ended before (some with no retry left)
            self._maybe_end_task(job, task, now)  # (upstream counts are set just below)
        for task in job.tasks.values():
            task.pending_upstream = sum(
                1
                for up in task.upstream
                if job.tasks[up].selected and job.tasks[up].state != State.FINISHED
            )
        for task in job.tasks.values():
            if task.selected and not task.state.terminal and task.pending_upstream == 0:
                self._enqueue_task(job, task)
        self._maybe_end_job(job, now)
        return self._flush(now)

    def _new_job(
        self,
        plan: JobPlan,
        only: Collection[str] | None,
        kept: Mapping[str, Collection[int]],
        priority: int | None,
        retries_used: Mapping[str, Mapping[int, int]],
    ) -> TrackedJob:
        """The records of a job (`_new_task` for each task); its counts sum the tasks'."""
        job = TrackedJob(
            job_id=plan.job_id,
            name=plan.name,
            priority=plan.priority if priority is None else priority,
            seq=self._seq,
            fail_on_instance_fail=plan.fail_on_instance_fail,
            tasks={},
            notices=plan.notices,
        )
        for tp in plan.tasks:
            selected = only is None or tp.name in only
            task = _new_task(tp, selected, kept.get(tp.name, ()), retries_used.get(tp.name, {}))
            job.tasks[tp.name] = task
            job.task_counts[task.state] += 1
            job.instance_counts.update(task.counts)
        return job

    def _announce(self, job: TrackedJob, now: float) -> None:
        """Publish the new job, its tasks and instances (the idle ones in one batch per
        task); tasks left out by `only` stop."""
        self._publish_job(job, now)
        for task in job.tasks.values():
            if task.state.terminal:
                continue
            if not task.selected:
                task.detail["message"] = "Not run: left out by --only."
                for inst in task.instances.tracked():
                    if not inst.state.terminal:
                        self._set_instance(job, task, inst, State.STOPPED, now)
                self._stop_idle(job, task, now)
                self._set_task(job, task, State.STOPPED, now)
                continue
            self._publish_task(job, task, now)
            if task.instances.idle_count():
                self._publish_idle(job, task, now)
            for inst in task.instances.tracked():
                if not inst.state.terminal:
                    self._publish_instance(job, task, inst, now)

    def _fail_if_exhausted(self, job: TrackedJob, now: float) -> None:
        """JobFailOnInstanceFail: an instance submitted with no retry left fails the job."""
        if not job.fail_on_instance_fail:
            return
        for task in job.tasks.values():
            failed = [i for i in task.instances.tracked() if i.state == State.FAILED]
            if task.selected and failed:
                self._fail_job_for(job, task, failed[0].instance_id, "no retry left", now)
                return

    def started(
        self, job_id: str, task_name: str, instance_id: int, now: float, detail: EventDetail
    ) -> list[Action]:
        """The runtime started an attempt: the instance (and its task and job) run."""
        job = self.jobs[job_id]
        task = job.tasks[task_name]
        inst = task.instances[instance_id]
        if not inst.launched or inst.state.terminal:
            return self._flush(now)
        inst.detail.update(detail)
        inst.capacity_wait = None  # it may have waited for a node: it has one now
        attempt = inst.last
        if attempt is not None:
            running = replace(attempt, state=State.RUNNING, start_time=now)
            inst.attempts[-1] = _with_worker_detail(running, detail)
        if job.state == State.WAITING:
            job.start_time = job.start_time or now
            self._set_job(job, State.RUNNING, now)
        if task.state == State.WAITING:
            task.start_time = task.start_time or now
            self._set_task(job, task, State.RUNNING, now)
        if inst.start_time is None:
            inst.start_time = now
        self._set_instance(job, task, inst, State.RUNNING, now)
        return self._flush(now)

    def waiting(
        self, job_id: str, task_name: str, instance_id: int, reason: str, now: float
    ) -> list[Action]:
        """A launched attempt waits for a place to run (a cluster has no node for it now):
        the instance stays Waiting, and says why and since when (`capacity_wait`; None once
        it is placed, "" a reason while it is merely being prepared)."""
        job = self.jobs[job_id]
        task = job.tasks[task_name]
        inst = task.instances[instance_id]
        if inst.launched and inst.state == State.WAITING:
            held = inst.capacity_wait
            since = held["since"] if held else now
            inst.capacity_wait = CapacityWait(since=since, reason=reason) if reason else None
            self._publish_instance(job, task, inst, now, name=CAPACITY_WAIT_EVENT if reason else "")
        return self._flush(now)

    def ended(
        self,
        job_id: str,
        task_name: str,
        instance_id: int,
        outcome: AttemptOutcome,
        now: float,
        detail: EventDetail | None = None,
    ) -> list[Action]:
        """An attempt returned (ran, could not start, or was cancelled): apply the rules."""
        job = self.jobs[job_id]
        task = job.tasks[task_name]
        inst = task.instances[instance_id]
        if not inst.launched:
            return self._flush(now)
        inst.launched = False
        inst.capacity_wait = None  # an attempt that waited for a node ended
        job.in_flight -= 1
        self.ledger.give(task.resources)
        inst.detail.update(detail or {})
        attempt = inst.last
        assert attempt is not None
        finished = replace(
            attempt,
            state=_attempt_end_state(outcome, inst.cancel_requested),
            end_time=now,
            exit_code=outcome.exit_code,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
            usage=outcome.usage,
        )
        inst.attempts[-1] = _with_worker_detail(finished, detail or EventDetail())
        self._after_attempt(job, task, inst, outcome, now)
        self._maybe_end_task(job, task, now)
        self._maybe_end_job(job, now)
        return self._flush(now)

    def _after_attempt(
        self,
        job: TrackedJob,
        task: TrackedTask,
        inst: TrackedInstance,
        outcome: AttemptOutcome,
        now: float,
    ) -> None:
        """The instance's next state, from how its attempt ended: Finished, Stopped, Waiting
        for a retry, or Failed (which fails the job under JobFailOnInstanceFail)."""
        assert inst.last is not None
        ended = inst.last.state
        if ended in (State.FINISHED, State.STOPPED):
            inst.end_time = now
            self._set_instance(job, task, inst, ended, now)
        elif inst.retry_count < task.max_retry_count and job.ending is None:
            inst.retry_count += 1
            task.retries += 1
            self._set_instance(job, task, inst, State.WAITING, now)
            self._push(job, task, inst)
        else:
            inst.end_time = now
            self._set_instance(job, task, inst, State.FAILED, now)
            if job.fail_on_instance_fail and job.ending is None:
                reason = outcome.error_code or f"exit code {outcome.exit_code}"
                self._fail_job_for(job, task, inst.instance_id, reason, now)

    def stop(self, job_id: str, now: float) -> list[Action]:
        """Stop a waiting or running job; it ends Stopped once its attempts returned."""
        job = self.jobs[job_id]
        check_can_stop(job.state)
        if job.ending is None:
            job.message = "The job was stopped."
            self._wind_down(job, State.STOPPED, now)
        self._maybe_end_job(job, now)
        return self._flush(now)

    def snapshot(self, job_id: str) -> JobSnapshot:
        """A frozen copy of the job, for readers outside the scheduler."""
        return job_snapshot(self.jobs[job_id])

    def active_jobs(self) -> list[str]:
        """The jobs not ended yet: those a shutdown must stop."""
        return [j.job_id for j in self.jobs.values() if not j.state.terminal]

    # ------------------------------------------------------------ scheduling
    def _enqueue_task(self, job: TrackedJob, task: TrackedTask) -> None:
        """Queue the task's fresh instances in id order, as one cursor: their queue keys
        are reserved now, so later arrivals still come after them."""
        fresh = task.instances.fresh_count()
        if not fresh:
            return
        cursor = _FreshCursor(task.instances)
        first = cursor.next_fresh()
        assert first is not None
        key = self._queue_keys + 1
        self._queue_keys += fresh
        self._queue(job, task, (key, task.name, first, cursor))

    def _push(self, job: TrackedJob, task: TrackedTask, inst: TrackedInstance) -> None:
        """Queue one instance again (a retry keeps its place: its first queue key)."""
        if inst.queue_key < 0:
            self._queue_keys += 1
            inst.queue_key = self._queue_keys
        self._queue(job, task, (inst.queue_key, task.name, inst.instance_id, None))

    def _queue(self, job: TrackedJob, task: TrackedTask, entry: _Ready) -> None:
        heapq.heappush(self._ready[job.job_id].setdefault(task.resources, []), entry)
        self._queued.append((job, task, entry))

    def _dispatch(self, now: float) -> None:
        """Launch ready instances while they fit: higher priority first, then submit order."""
        if self.ledger.full:
            return
        jobs = sorted(
            (self.jobs[j] for j, queues in self._ready.items() if any(queues.values())),
            key=lambda j: (-j.priority, j.seq),
        )
        for job in jobs:
            queues = self._ready[job.job_id]
            while not self.ledger.full:
                heads = [(q[0], shape) for shape, q in queues.items() if q]
                fitting = [(head, shape) for head, shape in heads if self.ledger.fits(shape)]
                if not fitting:
                    break
                (key, task_name, instance_id, cursor), shape = min(fitting)
                heapq.heappop(queues[shape])
                task = job.tasks[task_name]
                fresh_wait = None
                if cursor is not None:
                    fresh_wait = task.capacity_wait
                    following = cursor.next_fresh()
                    if following is not None:
                        self._queue(job, task, (key + 1, task_name, following, cursor))
                    else:  # its last fresh instance: none of them waits any more
                        task.capacity_wait = None
                self._launch(job, task, instance_id, key, shape, now, fresh_wait)
            if self.ledger.full:
                return

    def _launch(
        self,
        job: TrackedJob,
        task: TrackedTask,
        instance_id: int,
        key: int,
        shape: Resources,
        now: float,
        fresh_wait: CapacityWait | None = None,
    ) -> None:
        """Start an attempt; `fresh_wait` is the wait of the task's fresh instances when the
        instance was one of them."""
        inst = task.instances[instance_id]
        if inst.queue_key < 0:
            inst.queue_key = key
        self.ledger.take(shape)
        inst.launched = True
        job.in_flight += 1
        attempt = len(inst.attempts)
        wait = inst.capacity_wait or fresh_wait
        inst.capacity_wait = None
        inst.attempts.append(
            AttemptSnapshot(
                attempt,
                State.WAITING,
                start_time=now,
                launch_time=now,
                capacity_wait_start=wait["since"] if wait else None,
                capacity_wait_reason=wait["reason"] if wait else "",
            )
        )
        self._actions.append(Launch(job.job_id, task.name, instance_id, attempt))

    def _hold_for_capacity(self, now: float) -> None:
        """Say once of what was queued since the last dispatch and is still queued that it
        waits for capacity, and why: an instance queued again (a retry) in an event of its
        own, a task's fresh instances (queued together) in one batch event."""
        queued, self._queued = self._queued, []
        for job, task, (key, _, instance_id, cursor) in queued:
            if job.ending is not None:
                continue
            if cursor is not None:
                queue = self._ready[job.job_id].get(task.resources, [])
                if task.capacity_wait is None and any(entry[0] == key for entry in queue):
                    task.capacity_wait = self._wait(task, now)
                    self._publish_fresh_wait(job, task, now)
                continue
            inst = task.instances[instance_id]  # recorded already: it was queued again
            if not inst.launched and inst.state == State.WAITING and inst.capacity_wait is None:
                inst.capacity_wait = self._wait(task, now)
                self._publish_instance(job, task, inst, now, name=CAPACITY_WAIT_EVENT)

    def _wait(self, task: TrackedTask, now: float) -> CapacityWait:
        return CapacityWait(since=now, reason=self.ledger.why_held(task.resources))

    def _publish_fresh_wait(self, job: TrackedJob, task: TrackedTask, now: float) -> None:
        """One event for the task's instances that never started and wait for capacity."""
        instances = task.instances
        self._emit(
            job,
            "Instance",
            State.WAITING,
            now,
            CAPACITY_WAIT_EVENT,
            task_name=task.name,
            batch=InstanceBatch(instances.count, frozenset(instances.records)),
            detail=EventDetail(capacity_wait=task.capacity_wait),
        )

    def _flush(self, now: float) -> list[Action]:
        self._dispatch(now)
        self._hold_for_capacity(now)
        actions, self._actions = self._actions, []
        return actions

    # --------------------------------------------------------------- endings
    def _fail_job_for(
        self, job: TrackedJob, task: TrackedTask, instance_id: int, reason: str, now: float
    ) -> None:
        """An instance failed for good under JobFailOnInstanceFail: its task and job fail."""
        self._set_task(job, task, State.FAILED, now, end=True)
        job.message = f"Instance {instance_id} of task {task.name} failed: {reason}"
        self._wind_down(job, State.FAILED, now)

    def _wind_down(self, job: TrackedJob, ending: State, now: float) -> None:
        """Start nothing new; stop what waits now and cancel what runs."""
        job.ending = ending
        self._ready[job.job_id] = {}
        for task in job.tasks.values():
            for inst in task.instances.tracked():
                if inst.launched and not inst.cancel_requested:
                    inst.cancel_requested = True
                    self._actions.append(Cancel(job.job_id, task.name, inst.instance_id))
                elif not inst.launched and not inst.state.terminal:
                    inst.capacity_wait = None
                    inst.end_time = now if inst.start_time is not None else None
                    self._set_instance(job, task, inst, State.STOPPED, now)
            task.capacity_wait = None
            self._stop_idle(job, task, now)
            self._maybe_end_task(job, task, now)

    def _maybe_end_task(self, job: TrackedJob, task: TrackedTask, now: float) -> None:
        if task.state.terminal or task.counts[State.WAITING] or task.counts[State.RUNNING]:
            return
        if job.ending is None:
            final = State.FINISHED
        elif task.counts[State.FAILED] and job.fail_on_instance_fail:
            final = State.FAILED
        elif task.counts[State.STOPPED]:
            final = State.STOPPED
        else:
            final = State.FINISHED
        self._set_task(job, task, final, now, end=True)
        if final == State.FINISHED and job.ending is None:
            for name in task.downstream:
                down = job.tasks[name]
                down.pending_upstream -= 1
                if down.pending_upstream == 0 and down.selected and not down.state.terminal:
                    self._enqueue_task(job, down)

    def _maybe_end_job(self, job: TrackedJob, now: float) -> None:
        if job.state.terminal or job.in_flight:
            return
        if job.ending is None and (
            job.task_counts[State.WAITING] or job.task_counts[State.RUNNING]
        ):
            return
        for task in job.tasks.values():
            if not task.state.terminal:
                self._set_task(job, task, State.STOPPED, now, end=True)
        final = job.ending or State.FINISHED
        job.end_time = now
        self._set_job(job, final, now)
        self._ready.pop(job.job_id, None)
        self._actions.append(JobEnded(job.job_id, final))

    # ------------------------------------------------------- state + events
    def _set_job(self, job: TrackedJob, state: State, now: float) -> None:
        check_transition(job.state, state)
        job.state = state
        self._publish_job(job, now)

    def _set_task(
        self, job: TrackedJob, task: TrackedTask, state: State, now: float, *, end: bool = False
    ) -> None:
        check_transition(task.state, state)
        job.task_counts[task.state] -= 1
        job.task_counts[state] += 1
        task.state = state
        if end and task.start_time is not None:
            task.end_time = now
        self._publish_task(job, task, now)

    def _set_instance(
        self, job: TrackedJob, task: TrackedTask, inst: TrackedInstance, state: State, now: float
    ) -> None:
        check_transition(inst.state, state)
        task.counts[inst.state] -= 1
        task.counts[state] += 1
        job.instance_counts[inst.state] -= 1
        job.instance_counts[state] += 1
        inst.state = state
        self._publish_instance(job, task, inst, now)

    def _stop_idle(self, job: TrackedJob, task: TrackedTask, now: float) -> None:
        """The idle instances (never started) end Stopped together: one batch event."""
        idle = task.instances.idle_count()
        before = task.instances.idle_state
        if not idle or before.terminal:
            return
        check_transition(before, State.STOPPED)
        task.counts[before] -= idle
        task.counts[State.STOPPED] += idle
        job.instance_counts[before] -= idle
        job.instance_counts[State.STOPPED] += idle
        task.instances.idle_state = State.STOPPED
        self._publish_idle(job, task, now)

    def _publish_idle(self, job: TrackedJob, task: TrackedTask, now: float) -> None:
        """One event for all idle instances of the task (those not recorded one by one)."""
        instances = task.instances
        self._emit(
            job,
            "Instance",
            instances.idle_state,
            now,
            task_name=task.name,
            batch=InstanceBatch(instances.count, frozenset(instances.records)),
        )

    def _emit(
        self,
        job: TrackedJob,
        category: str,
        state: State,
        now: float,
        name: str = "",
        **fields: Any,
    ) -> None:
        self._actions.append(
            Publish(
                Event(
                    name=name or event_name(category, state),
                    job_id=job.job_id,
                    state=state,
                    time=now,
                    category=category,
                    **fields,
                )
            )
        )

    def _publish_job(self, job: TrackedJob, now: float) -> None:
        detail: EventDetail = {
            "name": job.name,
            "priority": job.priority,
            "message": job.message,
            "task_metrics": Metrics.of(job.task_counts).as_api(),
            "instance_metrics": Metrics.of(job.instance_counts).as_api(),
            "notices": list(job.notices),
        }
        self._emit(
            job,
            "Job",
            job.state,
            now,
            start_time=job.start_time,
            end_time=job.end_time,
            detail=detail,
        )

    def _publish_task(self, job: TrackedJob, task: TrackedTask, now: float) -> None:
        detail: EventDetail = {
            **task.detail,
            "instance_metrics": Metrics.of(task.counts).as_api(),
            "retries": task.retries,
        }
        self._emit(
            job,
            "Task",
            task.state,
            now,
            task_name=task.name,
            start_time=task.start_time,
            end_time=task.end_time,
            detail=detail,
        )

    def _publish_instance(
        self,
        job: TrackedJob,
        task: TrackedTask,
        inst: TrackedInstance,
        now: float,
        name: str = "",
    ) -> None:
        last = inst.last
        detail: EventDetail = {
            **inst.detail,
            "attempts": [a.as_detail() for a in inst.attempts],
            "capacity_wait": inst.capacity_wait,
        }
        self._emit(
            job,
            "Instance",
            inst.state,
            now,
            name,
            task_name=task.name,
            instance_id=inst.instance_id,
            start_time=inst.start_time,
            end_time=inst.end_time,
            retry_count=inst.retry_count,
            attempt=last.attempt if last else None,
            exit_code=last.exit_code if last else None,
            error_code=last.error_code if last else "",
            error_message=last.error_message if last else "",
            latest_attempt=last if last and last.state != State.WAITING else None,
            detail=detail,
        )


def _attempt_end_state(outcome: AttemptOutcome, cancelled: bool) -> State:
    """Finished when it succeeded, Stopped when it was cancelled, Failed otherwise."""
    if outcome.succeeded:
        return State.FINISHED
    if cancelled or outcome.error_code == STOPPED_ERROR_CODE:
        return State.STOPPED
    return State.FAILED


def _with_worker_detail(attempt: AttemptSnapshot, detail: EventDetail) -> AttemptSnapshot:
    """The attempt with what its worker reported of it alone: its runtime ref and where its
    output begins in the instance's log files."""
    stdout_offset, stderr_offset = detail.get("stdout_offset"), detail.get("stderr_offset")
    return replace(
        attempt,
        ref=str(detail.get("ref", attempt.ref)),
        stdout_offset=stdout_offset if isinstance(stdout_offset, int) else attempt.stdout_offset,
        stderr_offset=stderr_offset if isinstance(stderr_offset, int) else attempt.stderr_offset,
    )


def _new_task(
    plan: TaskPlan, selected: bool, kept: Collection[int], retries_used: Mapping[int, int]
) -> TrackedTask:
    """A task's records: kept instances Finished, those with no retry left Failed, those
    that used retries Waiting with them; the others idle (Waiting, recorded when they run).
    A task all kept is Finished."""
    instances = TaskInstances(plan.instance_count)
    task = TrackedTask(
        name=plan.name,
        resources=plan.resources,
        max_retry_count=plan.max_retry_count,
        instances=instances,
        upstream=plan.upstream,
        downstream=plan.downstream,
        selected=selected,
    )
    kept_ids = {i for i in kept if 0 <= i < plan.instance_count}
    for instance_id in kept_ids:
        instances[instance_id].state = State.FINISHED
    for instance_id, used in retries_used.items():
        if instance_id in kept_ids or not 0 <= instance_id < plan.instance_count or not used:
            continue
        inst = instances[instance_id]
        inst.retry_count = used
        task.retries += used
        if used > plan.max_retry_count:
            inst.state = State.FAILED
    for inst in instances.records.values():
        task.counts[inst.state] += 1
    task.counts[State.WAITING] += instances.idle_count()
    if task.counts[State.FINISHED] == plan.instance_count:
        task.state = State.FINISHED
    return task
