"""The engine: one thread owns all job state; worker threads run attempts and report back.

`Engine` is what the `run` command and the HTTP server drive. Its own thread applies every
input to the pure `Scheduler` and performs the actions it answers: it starts one worker
thread per attempt (storage prepare → `run_attempt` → storage finish), sets cancel flags,
and publishes events on the bus. Workers never touch state: they post their results to the
engine's inbox. Time comes from an injected clock, so tests control the recorded times.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from localbatch.config import Config
from localbatch.engine.attempts import (
    JobStorageLike,
    StorageFactory,
    execute_attempt,
    failure_outcome,
)
from localbatch.engine.capacity import HostCapacity, Resources
from localbatch.engine.environment import TaskEnvironment, task_environment
from localbatch.engine.not_emulated import not_emulated
from localbatch.engine.records import JobSnapshot
from localbatch.engine.scheduler import (
    Action,
    Cancel,
    JobEnded,
    JobPlan,
    Launch,
    Publish,
    Scheduler,
    TaskPlan,
)
from localbatch.events import EventBus, EventDetail
from localbatch.runtime.base import (
    STOP_GRACE_SECONDS,
    AttemptHandle,
    AttemptOutcome,
    ChecksJobs,
    JobRefused,
    Node,
    Runtime,
    SpansNodes,
    placed_on,
    uses_images,
)
from localbatch.spec.model import Job
from localbatch.states import State, StateConflict
from localbatch.storage.layout import job_dir

log = logging.getLogger(__name__)

T = TypeVar("T")


def cluster_capacity(
    runtime: SpansNodes,
    nodes: tuple[Node, ...],
    max_parallel: int | None,
    oversubscribe: bool = False,
) -> HostCapacity:
    """The budget of a runtime on a cluster: its nodes'."""
    sizes = tuple(Resources(n.cpu_cores, n.memory_bytes) for n in nodes)
    return HostCapacity.of_nodes(
        sizes, runtime.describe_nodes(nodes), max_parallel, oversubscribe=oversubscribe
    )


def capacity_of(
    runtime: Runtime, max_parallel: int | None = None, oversubscribe: bool = False
) -> HostCapacity:
    """What the runtime can run at once: a cluster's nodes, else this host."""
    if isinstance(runtime, SpansNodes):
        return cluster_capacity(runtime, runtime.nodes(), max_parallel, oversubscribe)
    return HostCapacity.detect(max_parallel, oversubscribe=oversubscribe)


class Clock(Protocol):
    """Where recorded times come from; tests pass one they move by hand."""

    def now(self) -> float:
        """POSIX seconds."""


class SystemClock:
    """The wall clock: the API reports times as POSIX instants."""

    def now(self) -> float:
        return time.time()


class UnknownJob(LookupError):
    """The engine has never been given this job id."""


@dataclass
class _JobContext:
    job: Job
    storage: JobStorageLike[Any]
    envs: dict[str, TaskEnvironment]
    done: threading.Event = field(default_factory=threading.Event)
    final: State | None = None
    cancels: dict[tuple[str, int], threading.Event] = field(default_factory=dict)
    #: Set by `Engine.kill`: attempts being stopped are killed without their grace period.
    kill: threading.Event = field(default_factory=threading.Event)


def job_plan(
    job_id: str, job: Job, envs: Mapping[str, TaskEnvironment], notices: list[str]
) -> JobPlan:
    """The scheduler's view of a job: tasks in dependency order with their sizes."""
    from localbatch.plan import build_dag, graph_levels

    graph = build_dag(job)
    return JobPlan(
        job_id=job_id,
        name=job.name,
        tasks=tuple(
            TaskPlan(
                name=name,
                instance_count=job.tasks[name].instance_count,
                max_retry_count=job.tasks[name].max_retry_count,
                resources=envs[name].sizing.granted,
                upstream=frozenset(graph.predecessors(name)),
                downstream=tuple(graph.successors(name)),
            )
            for level in graph_levels(graph)
            for name in level
        ),
        fail_on_instance_fail=job.job_fail_on_instance_fail,
        priority=job.priority,
        notices=tuple(notices),
    )


class Engine:
    """Runs jobs in the background on one runtime, within this host's capacity."""

    def __init__(
        self,
        config: Config,
        runtime: Runtime,
        bus: EventBus,
        *,
        max_parallel: int | None = None,
        oss_host: str = "",
        clock: Clock | None = None,
        storage_factory: StorageFactory | None = None,
        capacity: HostCapacity | None = None,
    ) -> None:
        if storage_factory is None:
            from localbatch.storage.instance import JobStorage

            storage_factory = JobStorage
        self.config = config
        self.runtime = runtime
        self.bus = bus
        self.oss_host = oss_host
        self.clock: Clock = clock or SystemClock()
        if capacity is not None and max_parallel is not None:
            capacity = replace(capacity, max_parallel=max_parallel)
        self.max_parallel = max_parallel
        self.capacity = capacity or capacity_of(runtime, max_parallel, config.oversubscribe)
        self._storage_factory = storage_factory
        #: Seconds a stopped (or timed-out) attempt gets after SIGTERM before it is killed.
        self.stop_grace = STOP_GRACE_SECONDS
        self._scheduler = Scheduler(self.capacity)
        self._contexts: dict[str, _JobContext] = {}
        self._inbox: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._workers: set[threading.Thread] = set()
        self._workers_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="localbatch-engine", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ public API
    def submit(
        self,
        job_id: str,
        job: Job,
        *,
        only: Collection[str] | None = None,
        keep_finished: Mapping[str, Collection[int]] | None = None,
        priority: int | None = None,
        retries_used: Mapping[str, Mapping[int, int]] | None = None,
    ) -> None:
        """Queue the job; it runs in the background (only the instances not kept finished).

        `retries_used` (task -> instance -> RetryCount): what a recovered job's instances
        already used; they get only the retries left (`Scheduler.submit`). JobRefused,
        before anything starts, when the runtime cannot run it (`_check`).
        """
        envs = self._check(job_id, job, only)
        self._call(
            lambda: self._submit(job_id, job, envs, only, keep_finished, priority, retries_used)
        )

    def stop(self, job_id: str) -> None:
        """Stop the job: waiting instances at once, running ones gracefully, then killed."""
        self._call(lambda: self._perform(self._scheduler.stop(job_id, self.clock.now())))

    def kill(self, job_id: str) -> None:
        """Stop the job and kill its running attempts now, without the grace period (also
        those already given SIGTERM by an earlier stop)."""
        self._context(job_id).kill.set()
        # Already ending: the kill cuts its grace period short all the same.
        with contextlib.suppress(StateConflict):
            self.stop(job_id)

    def job_ids(self) -> list[str]:
        """Every job this engine was given."""
        return list(self._contexts)

    def wait(self, job_id: str, timeout: float | None = None) -> State | None:
        """The job's final state, or None if it is still going after `timeout` seconds."""
        context = self._context(job_id)
        return context.final if context.done.wait(timeout) else None

    def snapshot(self, job_id: str) -> JobSnapshot:
        """A frozen copy of the job, taken on the engine thread (the one owner of state)."""
        self._context(job_id)
        return self._call(lambda: self._scheduler.snapshot(job_id))

    def shutdown(self, timeout: float = STOP_GRACE_SECONDS + 20) -> None:
        """Stop every job this engine runs, wait for their attempts, end the engine thread."""
        if self._closed:
            return
        for job_id in self._call(self._scheduler.active_jobs):
            try:
                self.stop(job_id)
            except Exception:  # already ending: nothing to stop
                log.debug("stop of %s during shutdown", job_id, exc_info=True)
        deadline = time.monotonic() + timeout
        for context in list(self._contexts.values()):
            context.done.wait(max(0.0, deadline - time.monotonic()))
        with self._workers_lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        self._closed = True
        self._inbox.put(None)
        self._thread.join(timeout=5)

    # ------------------------------------------------------- engine thread
    def _loop(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            try:
                item()
            except Exception:
                log.exception("engine step failed")

    def _call(self, func: Callable[[], T]) -> T:
        """Run `func` on the engine thread and answer its result (or raise its error)."""
        if threading.current_thread() is self._thread:
            return func()
        if self._closed:
            raise RuntimeError("the engine has been shut down")
        future: Future[T] = Future()

        def step() -> None:
            try:
                future.set_result(func())
            except BaseException as exc:
                future.set_exception(exc)

        self._inbox.put(step)
        return future.result()

    def _context(self, job_id: str) -> _JobContext:
        try:
            return self._contexts[job_id]
        except KeyError:
            raise UnknownJob(f"no such job in this engine: {job_id}") from None

    def _check(
        self, job_id: str, job: Job, only: Collection[str] | None
    ) -> dict[str, TaskEnvironment]:
        """What the job's tasks see, once the runtime said it can run them: on a cluster,
        a node holds each instance type, and every node sees the job's files (JobRefused
        otherwise). Runs on the caller's thread: a cluster's check takes a moment."""
        if isinstance(self.runtime, SpansNodes):
            nodes = self.runtime.nodes()
            if not nodes:
                raise JobRefused(f"no node may run instances: {self.runtime.describe_nodes(nodes)}")
            self.capacity = cluster_capacity(
                self.runtime, nodes, self.max_parallel, self.capacity.oversubscribe
            )
        envs = {
            name: task_environment(job_id, task, self.config, self.capacity, self.oss_host)
            for name, task in job.tasks.items()
        }
        selected = [envs[name] for name in job.tasks if only is None or name in only]
        for env in selected:
            if env.sizing.refusal:
                raise JobRefused(f"task {env.task_name}: {env.sizing.refusal}", "InstanceType")
        if isinstance(self.runtime, ChecksJobs):
            work_root = job_dir(self.config.state_dir, job_id)
            work_root.mkdir(parents=True, exist_ok=True)
            shared = (work_root,) if self.config.oss.remote else (work_root, self.config.oss.root)
            images = tuple(env.image for env in selected) if uses_images(self.runtime) else ()
            self.runtime.check_job(shared, images)
        return envs

    def _submit(
        self,
        job_id: str,
        job: Job,
        envs: dict[str, TaskEnvironment],
        only: Collection[str] | None,
        keep_finished: Mapping[str, Collection[int]] | None,
        priority: int | None,
        retries_used: Mapping[str, Mapping[int, int]] | None,
    ) -> None:
        self._scheduler.ledger.host = self.capacity
        notices = self._notices(job, envs)
        plan = job_plan(job_id, job, envs, notices)
        for notice in notices:
            log.info("%s: %s", job_id, notice)
        # The scheduler refuses it too; checked first so that no second storage is opened
        # over the work directory of a job that still runs.
        existing = self._scheduler.jobs.get(job_id)
        if existing is not None and not existing.state.terminal:
            raise StateConflict(existing.state)
        previous = self._contexts.get(job_id)
        storage = self._storage_factory(
            self.config, job_id, job, job_dir(self.config.state_dir, job_id)
        )
        self._contexts[job_id] = _JobContext(job=job, storage=storage, envs=envs)
        try:
            actions = self._scheduler.submit(
                plan,
                self.clock.now(),
                only=only,
                keep_finished=keep_finished,
                priority=priority,
                retries_used=retries_used,
            )
        except Exception:
            storage.close()
            if previous is not None:
                self._contexts[job_id] = previous
            else:
                del self._contexts[job_id]
            raise
        self._perform(actions)

    def _notices(self, job: Job, envs: Mapping[str, TaskEnvironment]) -> list[str]:
        """What this run does not do as the service would, said once with the job."""
        notices = list(not_emulated(job, self.config))
        for env in envs.values():
            notices.extend(env.notices)
        if not uses_images(self.runtime):
            notices.append(
                f"runtime {self.runtime.name}: images are not used; programs see this "
                "host's system files (Command.Docker.Image / ImageId are not applied)"
            )
        return notices

    def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Publish):
                self.bus.publish(action.event)
            elif isinstance(action, Launch):
                self._start_worker(action)
            elif isinstance(action, Cancel):
                context = self._contexts[action.job_id]
                flag = context.cancels.get((action.task_name, action.instance_id))
                if flag is not None:
                    flag.set()
            elif isinstance(action, JobEnded):
                self._job_ended(action)

    def _job_ended(self, action: JobEnded) -> None:
        context = self._contexts[action.job_id]
        context.final = action.state

        def close() -> None:
            try:
                context.storage.close()
            except Exception:
                log.exception("closing the storage of %s failed", action.job_id)
            finally:
                context.done.set()

        threading.Thread(target=close, name=f"close-{action.job_id}", daemon=True).start()

    def _on_started(self, launch: Launch, detail: EventDetail) -> None:
        self._perform(
            self._scheduler.started(
                launch.job_id, launch.task_name, launch.instance_id, self.clock.now(), detail
            )
        )

    def _on_waiting(self, launch: Launch, reason: str) -> None:
        self._perform(
            self._scheduler.waiting(
                launch.job_id, launch.task_name, launch.instance_id, reason, self.clock.now()
            )
        )

    def _on_ended(self, launch: Launch, outcome: AttemptOutcome, detail: EventDetail) -> None:
        context = self._contexts[launch.job_id]
        context.cancels.pop((launch.task_name, launch.instance_id), None)
        self._perform(
            self._scheduler.ended(
                launch.job_id,
                launch.task_name,
                launch.instance_id,
                outcome,
                self.clock.now(),
                detail,
            )
        )

    # -------------------------------------------------------- worker threads
    def _start_worker(self, launch: Launch) -> None:
        context = self._contexts[launch.job_id]
        cancel = threading.Event()
        context.cancels[(launch.task_name, launch.instance_id)] = cancel
        worker = threading.Thread(
            target=self._work,
            args=(context, launch, cancel),
            name=f"{launch.task_name}.{launch.instance_id}.{launch.attempt}",
            daemon=True,
        )
        with self._workers_lock:
            self._workers.add(worker)
        worker.start()

    def _work(self, context: _JobContext, launch: Launch, cancel: threading.Event) -> None:
        detail = EventDetail()
        env = context.envs[launch.task_name]

        def on_started(handle: AttemptHandle) -> None:
            started: EventDetail = {**detail, "ref": handle.ref}
            node, node_ip = placed_on(handle)
            if node:
                started.update({"node": node, "node_ip": node_ip})
            self._inbox.put(lambda: self._on_started(launch, started))

        def on_waiting(reason: str) -> None:
            self._inbox.put(lambda: self._on_waiting(launch, reason))

        try:
            outcome = execute_attempt(
                self.runtime,
                context.storage,
                env,
                launch,
                cancel,
                detail,
                on_started,
                context.kill,
                self.stop_grace,
                on_waiting,
            )
        except Exception as exc:  # a defect below must still end the attempt visibly
            log.exception("attempt %s failed inside localbatch", launch)
            outcome = failure_outcome(exc)
        self._inbox.put(lambda: self._on_ended(launch, outcome, detail.copy()))
        with self._workers_lock:
            self._workers.discard(threading.current_thread())
