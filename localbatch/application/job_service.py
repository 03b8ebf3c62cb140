"""Job operations with the service's rules, shared by `localbatch serve` and the job commands.

Create (validate, IdempotentToken, record, hand to the engine), stop, start, delete and
change priority: each checks the state rule of semantics.md and raises the `ApiError` the
HTTP API answers. The store is the truth about jobs; the engine runs the ones this process
owns. A job whose runner is another live process (a `localbatch run`) is stopped by asking
that process (SIGTERM, which `run` treats as Ctrl-C); a job whose runner died is repaired
by `recovery`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from localbatch.config import Config
from localbatch.engine.records import JobSnapshot
from localbatch.engine.service import Engine, UnknownJob
from localbatch.events import (
    AttemptSnapshot,
    Event,
    EventBus,
    EventDetail,
    InstanceBatch,
    event_name,
)
from localbatch.ids import new_job_id
from localbatch.runtime.base import STOP_GRACE_SECONDS, STOPPED_ERROR_CODE, AttemptOutcome
from localbatch.spec.errors import ApiError, not_found, state_conflict
from localbatch.spec.model import Job, parse_job
from localbatch.spec.validate import check_job_count, validate
from localbatch.states import (
    State,
    StateConflict,
    check_can_change_priority,
    check_can_delete,
    check_can_start,
    check_can_stop,
)
from localbatch.store import (
    DuplicateToken,
    Store,
    body_digest,
    current_runner,
    runner_alive,
    runner_pid,
)
from localbatch.store.records import InstanceRecord, JobRecord

log = logging.getLogger(__name__)

#: How long StopJob waits for the job to be Stopped: the graceful stop, then the kill.
STOP_WAIT_SECONDS = STOP_GRACE_SECONDS + 5


class JobService:
    """One process's view of the jobs: the shared store plus the engine it runs jobs on."""

    def __init__(
        self,
        config: Config,
        store: Store,
        engine: Engine | None,
        bus: EventBus,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.engine = engine
        self.bus = bus
        self.clock = clock
        self.runner = current_runner()
        self._jobs: dict[str, Job] = {}
        self._create_lock = threading.Lock()
        bus.subscribe(self._auto_release)

    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("this process has no engine to run jobs on")
        return self.engine

    # -- create -----------------------------------------------------------------------

    def create(self, body: Mapping[str, Any], *, token: str = "", owner: str = "") -> str:
        """Record and start a job; the id of the job a reused `token` already names."""
        self._engine()
        if token:
            existing = self._job_for_token(token, body)
            if existing:
                return existing
        errors = validate(body, self.config.quotas).errors
        if errors:
            raise errors[0]
        job = parse_job(body)
        with self._create_lock:
            too_many = check_job_count(self.store.job_count(), self.config.quotas)
            if too_many:
                raise too_many
            try:
                job_id = self._record(job, owner=owner, token=token)
            except DuplicateToken as taken:
                return self._same_body(taken.job_id, taken.body_digest, body)
        try:
            self.submit(job_id)
        except BaseException:  # nothing runs it: leave no record of a job that never was
            self.store.delete_job(job_id)
            self._jobs.pop(job_id, None)
            raise
        return job_id

    def record(self, job: Job) -> str:
        """Record a job the caller validated (`localbatch run`), Waiting, run by this
        process; its id. `submit` hands it to the engine."""
        return self._record(job)

    def _record(self, job: Job, *, owner: str = "", token: str = "") -> str:
        job_id = new_job_id()
        self.store.create_job(
            job_id,
            job,
            created=self.clock(),
            owner=owner,
            idempotent_token=token,
            runner=self.runner,
        )
        self._jobs[job_id] = job
        return job_id

    def submit(self, job_id: str, *, only: Collection[str] | None = None) -> None:
        """Hand a recorded job to this process's engine: it runs in the background (only
        the tasks in `only`, when given; the others end Stopped, not run)."""
        self._engine().submit(job_id, self.model(job_id), only=only)

    def snapshot(self, job_id: str) -> JobSnapshot | None:
        """How a job this process runs is going, as its engine sees it; None when this
        process never ran it."""
        engine = self._engine()
        return engine.snapshot(job_id) if job_id in engine.job_ids() else None

    def _job_for_token(self, token: str, body: Mapping[str, Any]) -> str:
        row = self.store.job_for_token(token)
        return self._same_body(*row, body) if row else ""

    @staticmethod
    def _same_body(job_id: str, digest: str, body: Mapping[str, Any]) -> str:
        if digest != body_digest(body):
            raise ApiError.from_catalogue("IdempotentTokenMismatch")
        return job_id

    # -- operations on a recorded job -----------------------------------------------------

    def job(self, job_id: str) -> JobRecord:
        """The recorded job, or the service's not-found error."""
        record = self.store.get_job(job_id)
        if record is None:
            raise not_found(job_id)
        return record

    def model(self, job_id: str) -> Job:
        """The parsed description of a recorded job (cached)."""
        job = self._jobs.get(job_id)
        if job is None:
            body = self.store.job_body(job_id)
            if body is None:
                raise not_found(job_id)
            job = self._jobs[job_id] = parse_job(body)
        return job

    def stop(self, job_id: str) -> None:
        """Stop a Waiting or Running job; answers once it is Stopped when this process runs it
        (at most the graceful-stop delay), so that a delete may follow at once (`bcs dj`)."""
        record = self.job(job_id)
        _check(check_can_stop, record.state)
        if record.runner == self.runner and self.engine is not None:
            try:
                self.engine.stop(job_id)
            except (UnknownJob, KeyError):  # claimed by recovery, not handed to the engine yet
                self.mark_stopped(record)
                return
            except StateConflict as conflict:  # the engine saw it end a moment ago
                raise state_conflict(conflict.current) from None
            self.engine.wait(job_id, STOP_WAIT_SECONDS)
        elif runner_alive(record.runner):
            # A `localbatch run` in another process: it stops its job on SIGTERM, as on Ctrl-C.
            os.kill(runner_pid(record.runner), signal.SIGTERM)
        else:
            self.mark_stopped(record)

    def mark_stopped(self, record: JobRecord) -> None:
        """End a job nobody runs: its unfinished instances, tasks and itself become Stopped."""
        self.end_unfinished(record, State.STOPPED, message="The job was stopped.")

    def end_unfinished(
        self,
        record: JobRecord,
        state: State,
        *,
        failed_tasks: Collection[str] = (),
        message: str = "",
    ) -> None:
        """Publish the end of everything of a job not ended yet (no engine runs it).

        As the engine ends a job: unfinished instances end Stopped, tasks in `failed_tasks`
        Failed and the other unfinished tasks Stopped, the job `state`.
        """
        now = self.clock()
        self._stop_unfinished_instances(record.id, now)
        self._end_unfinished_tasks(record.id, now, failed_tasks)
        self.bus.publish(
            Event(
                event_name("Job", state),
                record.id,
                state,
                now,
                "Job",
                start_time=record.start_time,
                end_time=now,
                detail=EventDetail(message=message) if message else EventDetail(),
            )
        )

    def _stop_unfinished_instances(self, job_id: str, now: float) -> None:
        """Waiting and Running instances end Stopped (one never started has no end time);
        those nothing happened to yet, in one batch per task, as the engine stops them."""
        unfinished = self.store.list_instances(
            job_id, states=(State.WAITING, State.RUNNING), max_items=None, recorded_only=True
        ).items
        for instance in unfinished:
            self.bus.publish(
                instance_end_event(
                    instance,
                    AttemptOutcome(None, STOPPED_ERROR_CODE, "The instance was stopped."),
                    now,
                    state=State.STOPPED,
                    end_time=now if instance.start_time is not None else None,
                )
            )
        for task in self.store.list_tasks(job_id, max_items=None).items:
            if task.idle_state.terminal:
                continue
            recorded = self.store.list_instances(
                job_id, task.name, max_items=None, recorded_only=True
            ).items
            self.bus.publish(
                Event(
                    event_name("Instance", State.STOPPED),
                    job_id,
                    State.STOPPED,
                    now,
                    "Instance",
                    task.name,
                    batch=InstanceBatch(
                        task.instance_count, frozenset(i.instance_id for i in recorded)
                    ),
                )
            )

    def _end_unfinished_tasks(self, job_id: str, now: float, failed: Collection[str]) -> None:
        """Tasks not ended yet end Failed when named in `failed`, Stopped otherwise."""
        for task in self.store.list_tasks(job_id, max_items=None).items:
            if task.state.terminal:
                continue
            task_state = State.FAILED if task.name in failed else State.STOPPED
            self.bus.publish(
                Event(
                    event_name("Task", task_state),
                    job_id,
                    task_state,
                    now,
                    "Task",
                    task.name,
                    start_time=task.start_time,
                    end_time=now,
                )
            )

    def start(self, job_id: str) -> None:
        """Re-run a Stopped or Failed job: only its instances that did not finish."""
        record = self.job(job_id)
        _check(check_can_start, record.state)
        self.store.claim_job(job_id, self.runner)
        self.resume(job_id)

    def resume(
        self, job_id: str, *, retries_used: Mapping[str, Mapping[int, int]] | None = None
    ) -> None:
        """Hand a recorded job to this process's engine, keeping its finished instances.

        A restart gives the others the task's full MaxRetryCount (a new run, as the service
        does); recovery passes the retries they already used (`Engine.submit`).
        """
        engine = self._engine()
        record = self.job(job_id)
        finished: dict[str, list[int]] = {}
        for instance in self.store.list_instances(
            job_id, states=(State.FINISHED,), max_items=None
        ).items:
            finished.setdefault(instance.task_name, []).append(instance.instance_id)
        try:
            engine.submit(
                job_id,
                self.model(job_id),
                keep_finished=finished,
                priority=record.priority,
                retries_used=retries_used,
            )
        except StateConflict as conflict:  # still ending in the engine
            raise state_conflict(conflict.current) from None
        except Exception as exc:  # the job must not look Waiting with nothing behind it
            log.exception("handing %s to the engine failed", job_id)
            self.end_unfinished(
                self.job(job_id), State.FAILED, message=f"The job could not be started: {exc}"
            )
            raise

    def delete(self, job_id: str) -> None:
        """Remove an ended job from the store; its files under the state dir stay."""
        _check(check_can_delete, self.job(job_id).state)
        self.store.delete_job(job_id)
        self._jobs.pop(job_id, None)

    def change_priority(self, job_id: str, body: Mapping[str, Any]) -> None:
        """Set a Stopped job's Priority, checked by the CreateJob validator's own rule."""
        if "Priority" not in body:
            raise ApiError.from_catalogue("Missing", Parameter="Priority")
        candidate = {**self.model(job_id).raw, "Priority": body["Priority"]}
        for error in validate(candidate, self.config.quotas).errors:
            if error.code.endswith("Priority"):
                raise error
        priority = int(body["Priority"])
        record = self.job(job_id)
        _check(check_can_change_priority, record.state)
        self.bus.publish(
            Event(
                "OnPriorityChange",
                job_id,
                record.state,
                self.clock(),
                "Job",
                start_time=record.start_time,
                end_time=record.end_time,
                detail=EventDetail(priority=priority, previous_priority=record.priority),
            )
        )

    def _auto_release(self, event: Event) -> None:
        """AutoRelease: a job of this process that Finished is deleted."""
        if event.name != "OnJobFinished":
            return
        job = self._jobs.get(event.job_id)
        if job is not None and job.auto_release:
            self.store.delete_job(event.job_id)
            self._jobs.pop(event.job_id, None)


def instance_end_event(
    instance: InstanceRecord,
    outcome: AttemptOutcome,
    now: float,
    *,
    end_time: float | None,
    state: State | None = None,
    detail: EventDetail | None = None,
) -> Event:
    """The event that ends a recorded instance outside the engine (stopped or recovered),
    so that both write the same record the engine would have; a Running instance's attempt
    ends with it.

    `state` defaults to what the outcome says (Finished or Failed).
    """
    if state is None:
        state = State.FINISHED if outcome.succeeded else State.FAILED
    attempt = None
    if instance.state == State.RUNNING and instance.attempt is not None:
        attempt = AttemptSnapshot(
            instance.attempt,
            state,
            end_time=end_time,
            exit_code=outcome.exit_code,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
        )
    return Event(
        name=event_name("Instance", state),
        job_id=instance.job_id,
        state=state,
        time=now,
        category="Instance",
        task_name=instance.task_name,
        instance_id=instance.instance_id,
        start_time=instance.start_time,
        end_time=end_time,
        retry_count=instance.retry_count,
        attempt=instance.attempt,
        exit_code=outcome.exit_code,
        error_code=outcome.error_code,
        error_message=outcome.error_message,
        latest_attempt=attempt,
        detail=detail or EventDetail(),
    )


def _check(rule: Callable[[State], None], state: State) -> None:
    try:
        rule(state)
    except StateConflict as conflict:
        raise state_conflict(conflict.current) from None
