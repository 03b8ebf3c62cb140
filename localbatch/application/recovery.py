"""Crash safety: jobs whose runner died (kill -9 of a server or a `localbatch run`).

A job recorded Waiting or Running whose runner process is gone is taken over by the
process that notices it (a `localbatch serve`, at start and then periodically):

1. Each instance recorded Running is looked for with the runtime (`reattach(ref, stdout,
   stderr, begins_at=...)`, which the Docker runtime offers; its output goes on into the
   log files, completed first with what it wrote while no runner watched, or the attempt
   fails when the runtime cannot give all of it back). One still there, running or
   ended, is adopted: waited for until it ends (within what is left of its Timeout) and
   its result recorded; when where its output begins was not recorded, its container is
   kept, since only its log holds what it wrote meanwhile. Any other becomes Failed with
   error code `Lost` (a sandboxed process dies with the process that started it).
2. If a Lost instance had no retry left (RetryCount >= MaxRetryCount) and the job has
   JobFailOnInstanceFail, the job fails as the engine would have failed it. Otherwise the job
   is handed to this process's engine with the retries each instance used: a Lost or
   adopted-then-failed attempt counts as used (`Engine.submit(retries_used=...)`), so
   unfinished instances get only what is left, and one with none left stays Failed.
   Finished instances and their outputs are kept.

An adopted attempt is finished as its dead runner would have: its storage (log files,
LogMapping files, OutputMapping directories, all derived from task, instance and attempt)
is rebuilt (`JobStorage.reopen`), its logs are pushed while it runs and
completely when it ends, and its outputs are uploaded. When that storage cannot be rebuilt
the attempt ends Lost (and runs again if a retry is left). Its container survived the
start-up orphan clean-up of every run because the store records its job unfinished
(`localbatch.store.unfinished`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from localbatch.application.job_service import JobService, instance_end_event
from localbatch.engine.attempts import failure_outcome, finish_storage
from localbatch.events import EventDetail
from localbatch.runtime.base import (
    STOP_GRACE_SECONDS,
    TIMED_OUT,
    AttemptHandle,
    AttemptOutcome,
    Runtime,
)
from localbatch.states import State
from localbatch.storage.layout import job_dir
from localbatch.store import runner_alive
from localbatch.store.records import InstanceRecord, JobRecord

if TYPE_CHECKING:
    from localbatch.spec.model import Task
    from localbatch.storage.instance import JobStorage, PreparedAttempt

log = logging.getLogger(__name__)

LOST = "Lost"
#: Seconds between two looks for jobs whose runner died.
SWEEP_INTERVAL = 5.0


@dataclass(frozen=True)
class Adopted:
    """A Running instance whose program outlived its runner, reattached to this process."""

    instance: InstanceRecord
    handle: AttemptHandle
    #: False when where its output begins in the log files is not recorded: they miss
    #: what it wrote while no runner watched, so its container is kept (its log has it).
    whole_output: bool = True


class Recovery:
    """Finds and repairs orphaned jobs for one `JobService` (and its engine and runtime)."""

    def __init__(self, service: JobService, runtime: Runtime) -> None:
        self.service = service
        self.runtime = runtime
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def orphans(self) -> list[JobRecord]:
        """Unfinished jobs whose runner process no longer exists."""
        return [
            record
            for record in self.service.store.unfinished_jobs()
            if record.runner != self.service.runner and not runner_alive(record.runner)
        ]

    def sweep(self) -> list[str]:
        """Take over every orphaned job; answers the ids taken over."""
        return [record.id for record in self.orphans() if self.take_over(record)]

    def take_over(self, record: JobRecord) -> bool:
        """Recover one orphaned job here; False if it is already being (or was) taken over."""
        with self._lock:
            if record.id in self._busy:
                return False
            self._busy.add(record.id)
        if not self.service.store.claim_job(
            record.id, self.service.runner, expected=record.runner, new_run=False
        ):
            self._done(record.id)
            return False  # another process took it over first
        log.warning("%s: its runner (%s) is gone; recovering it", record.id, record.runner)
        try:
            self._recover(record)
        except Exception:
            self._done(record.id)
            log.exception("recovering %s failed", record.id)
        return True

    def _done(self, job_id: str) -> None:
        with self._lock:
            self._busy.discard(job_id)

    def _recover(self, record: JobRecord) -> None:
        store = self.service.store
        running = store.list_instances(record.id, states=(State.RUNNING,), max_items=None).items
        adopted: list[Adopted] = []
        lost: list[InstanceRecord] = []
        for instance in running:
            survivor = self._reattach(instance, record.run)
            if survivor is None:
                lost.append(instance)
            else:
                adopted.append(survivor)
        for instance in lost:
            self._record(
                instance,
                AttemptOutcome(
                    None,
                    LOST,
                    f"The process running this instance ({record.runner}) ended; "
                    "the attempt was lost.",
                ),
            )
        if adopted:
            threading.Thread(
                target=self._adopt_then_resume,
                args=(record, adopted, lost),
                name=f"adopt-{record.id}",
                daemon=True,
            ).start()
        else:
            self._resume(record, lost)

    def _reattach(self, instance: InstanceRecord, run: int) -> Adopted | None:
        reattach = getattr(self.runtime, "reattach", None)
        ref = str(instance.detail.get("ref", ""))
        if reattach is None or not ref:
            return None
        paths = [instance.detail.get(f"{stream}_path") for stream in ("stdout", "stderr")]
        begins_at = self._output_begins(instance, run) if all(paths) else None
        try:
            if all(paths):  # its output goes on into the instance's log files, completed
                handle: AttemptHandle | None = reattach(
                    ref, *(Path(str(p)) for p in paths), begins_at=begins_at
                )
            else:
                handle = reattach(ref)
        except Exception:
            log.exception("reattaching %s failed", ref)
            return None
        if handle is None:
            return None
        if begins_at is None:
            log.warning(
                "%s %s.%s: where its output begins in the log files is not recorded; what "
                "it wrote while no runner watched stays in the log of %s, which is kept",
                instance.job_id,
                instance.task_name,
                instance.instance_id,
                ref,
            )
        return Adopted(instance, handle, whole_output=begins_at is not None)

    def _output_begins(self, instance: InstanceRecord, run: int) -> tuple[int, int] | None:
        """Where the Running attempt's output begins in the instance's log files, so that
        what it wrote while no runner watched is collected too (None: not recorded, as by
        a localbatch from before offsets were recorded)."""
        for attempt in self.service.store.attempts(
            instance.job_id, instance.task_name, instance.instance_id
        ):
            if (attempt.run, attempt.attempt) == (run, instance.attempt):
                if attempt.stdout_offset is None or attempt.stderr_offset is None:
                    break
                return attempt.stdout_offset, attempt.stderr_offset
        return None

    def _adopt_then_resume(
        self, record: JobRecord, adopted: list[Adopted], lost: list[InstanceRecord]
    ) -> None:
        from localbatch.storage.instance import JobStorage

        job = self.service.model(record.id)
        work_root = job_dir(self.service.config.state_dir, record.id)
        storage = JobStorage(self.service.config, record.id, job, work_root)
        try:
            try:
                for item in adopted:
                    task = job.tasks[item.instance.task_name]
                    outcome, detail = self._finish_adopted(storage, task, item)
                    self._record(item.instance, outcome, detail)
                    if not outcome.succeeded:
                        lost.append(item.instance)
            finally:
                storage.close()  # stops the log pushing of an attempt not finished
            self._resume(self.service.job(record.id), lost)
        except Exception:
            log.exception("adopting the instances of %s failed", record.id)
            self._done(record.id)

    def _finish_adopted(
        self, storage: JobStorage, task: Task, item: Adopted
    ) -> tuple[AttemptOutcome, EventDetail]:
        """Wait for an adopted attempt, then finish it as its dead runner would have: push
        its logs, upload its outputs (or fail it as Lost when its storage is not rebuilt)."""
        instance, detail, why = item.instance, EventDetail(), ""
        prepared: PreparedAttempt | None = None
        try:
            workdir = Path(str(instance.detail.get("workdir", "")))
            prepared = storage.reopen(
                instance.task_name, instance.instance_id, instance.attempt or 0, workdir
            )
            prepared.start_streaming()
        except Exception as exc:
            prepared, why = None, failure_outcome(exc).error_message
        started = instance.start_time or self.service.clock()
        remaining = max(0.0, started + task.timeout - self.service.clock())
        outcome = self.runtime.wait(item.handle, remaining)
        if outcome is None:
            self.runtime.stop(item.handle, STOP_GRACE_SECONDS)
            outcome = AttemptOutcome(
                None, TIMED_OUT, f"The instance did not end within its Timeout of {task.timeout} s."
            )
        reserve = bool(task.auto_cluster and task.auto_cluster.reserve_on_fail)
        keep = reserve and not outcome.succeeded
        # Removing it would lose what its log files miss.
        self.runtime.release(item.handle, keep=keep or not item.whole_output)
        if prepared is None:
            message = (
                "The attempt ended after its runner died, and its logs and outputs cannot "
                f"be collected ({why}): it counts as lost."
            )
            return AttemptOutcome(outcome.exit_code, LOST, message), detail
        finished = finish_storage(storage, prepared, outcome, keep, detail)
        assert finished is not None
        return finished, detail

    def _record(
        self,
        instance: InstanceRecord,
        outcome: AttemptOutcome,
        detail: EventDetail | None = None,
    ) -> None:
        now = self.service.clock()
        self.service.bus.publish(
            instance_end_event(instance, outcome, now, end_time=now, detail=detail)
        )

    def _resume(self, record: JobRecord, failed: list[InstanceRecord]) -> None:
        """Fail the job if a failure used its last retry (and that fails jobs), else re-run."""
        job = self.service.model(record.id)
        exhausted = [
            instance
            for instance in failed
            if instance.retry_count >= job.tasks[instance.task_name].max_retry_count
        ]
        try:
            if exhausted and job.job_fail_on_instance_fail:
                first = exhausted[0]
                self.service.end_unfinished(
                    self.service.job(record.id),
                    State.FAILED,
                    failed_tasks={i.task_name for i in exhausted},
                    message=f"Instance {first.task_name}.{first.instance_id} was lost "
                    "with no retry left.",
                )
            else:
                self.service.store.claim_job(record.id, self.service.runner)
                self.service.resume(record.id, retries_used=self._retries_used(record.id))
        finally:
            self._done(record.id)

    def _retries_used(self, job_id: str) -> dict[str, dict[int, int]]:
        """RetryCount each unfinished instance starts the new run with: a Failed one (Lost,
        or its adopted attempt failed) used one more than it records."""
        used: dict[str, dict[int, int]] = {}
        recorded = self.service.store.list_instances(job_id, max_items=None, recorded_only=True)
        for instance in recorded.items:  # an idle instance used no retry
            if instance.state != State.FINISHED:
                extra = 1 if instance.state == State.FAILED else 0
                used.setdefault(instance.task_name, {})[instance.instance_id] = (
                    instance.retry_count + extra
                )
        return used

    # -- the periodic look ----------------------------------------------------------------

    def start(self, interval: float = SWEEP_INTERVAL) -> None:
        """Sweep now, then every `interval` seconds in a background thread until `close`."""
        self.sweep()
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="recovery", daemon=True
        )
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception:
                log.exception("recovery sweep failed")

    def close(self) -> None:
        """Stop the periodic sweep (a take-over already running finishes on its own)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
