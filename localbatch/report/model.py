"""A job as its report shows it, read from the store in a few queries.

Everything comes from the store's rows and the job's own description, plus the last lines
of a failed instance's stderr file; nothing is asked of a running engine, so `localbatch
report` works on any recorded job, from any process.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from localbatch.config import Config
from localbatch.plan import build_dag, graph_levels
from localbatch.plan.node_choice import choose_node
from localbatch.report.flags import Flag, attempt_flags
from localbatch.report.phases import Span, attempt_spans, program_started, run_beginnings
from localbatch.spec.errors import not_found
from localbatch.spec.instance_types import lookup
from localbatch.spec.model import parse_job
from localbatch.states import State
from localbatch.storage.log_tail import last_lines
from localbatch.store import Store
from localbatch.store.records import AttemptRecord, InstanceRecord

#: Lines of a failed instance's stderr the report shows.
STDERR_TAIL_LINES = 20


class Timed:
    """Something the report shows with its start and end: how long it took."""

    start_time: float | None
    end_time: float | None

    @property
    def duration(self) -> float | None:
        """None until it both started and ended."""
        if self.start_time is None or self.end_time is None:
            return None
        return max(0.0, self.end_time - self.start_time)


@dataclass(frozen=True, kw_only=True)
class AttemptView(AttemptRecord, Timed):
    """An attempt as the store keeps it, with what the report tells of it."""

    #: Whether its program started (`phases.program_started`).
    program_started: bool
    #: Where its time went, from the end of the attempt before it (`phases`).
    spans: tuple[Span, ...]
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class InstanceView(Timed):
    instance_id: int
    state: State
    retry_count: int
    exit_code: int | None
    error_code: str
    error_message: str
    start_time: float | None
    end_time: float | None
    attempts: tuple[AttemptView, ...]
    #: Local log files and their OSS objects ("" when not known).
    stdout_path: str = ""
    stderr_path: str = ""
    stdout_object: str = ""
    stderr_object: str = ""
    #: The last lines of stderr of a failed instance's last attempt (none otherwise).
    stderr_tail: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskView(Timed):
    name: str
    state: State
    start_time: float | None
    end_time: float | None
    #: Its place in the DAG (0: no upstream task) and the tasks it waits for.
    level: int
    upstream: tuple[str, ...]
    instance_type: str
    #: The type's cores and memory as the cloud gives them (None: not in the local table).
    cpu_cores: int | None
    memory_bytes: int | None
    instance_count: int
    max_retry_count: int
    instances: tuple[InstanceView, ...]


@dataclass(frozen=True)
class JobReport:
    job_id: str
    name: str
    description: str
    state: State
    message: str
    creation_time: float
    start_time: float | None
    end_time: float | None
    #: Upstream task -> the tasks that run after it (DAG.Dependencies).
    dependencies: Mapping[str, tuple[str, ...]]
    #: In DAG order (level by level, names sorted inside a level).
    tasks: tuple[TaskView, ...]
    #: The runtimes its attempts ran on ("docker", "process").
    runtimes: tuple[str, ...]
    generated_time: float = field(default_factory=time.time)

    @property
    def instances(self) -> int:
        return sum(len(task.instances) for task in self.tasks)


def build_report(config: Config, store: Store, job_id: str) -> JobReport:
    """The report of a recorded job (ApiError EntityNotFound when there is none)."""
    record = store.get_job(job_id)
    body = store.job_body(job_id)
    if record is None or body is None:
        raise not_found(job_id)
    job = parse_job(body)
    graph = build_dag(job)
    levels = {name: depth for depth, lvl in enumerate(graph_levels(graph)) for name in lvl}
    tasks = {t.name: t for t in store.list_tasks(job_id, max_items=None).items}
    instances: dict[str, list[InstanceRecord]] = {}
    for inst in store.list_instances(job_id, max_items=None).items:
        instances.setdefault(inst.task_name, []).append(inst)
    attempts: dict[tuple[str, int], list[AttemptRecord]] = {}
    recorded = store.job_attempts(job_id)
    for attempt in recorded:
        attempts.setdefault((attempt.task_name, attempt.instance_id), []).append(attempt)
    runs = run_beginnings(recorded)
    views: list[TaskView] = []
    for name in sorted(levels, key=lambda n: (levels[n], n)):
        spec = job.tasks[name]
        node = choose_node(spec, config)
        known = lookup(node.instance_type)
        upstream = tuple(sorted(graph.predecessors(name)))
        memory = known.memory_bytes if known else None
        task_record = tasks.get(name)
        views.append(
            TaskView(
                name=name,
                state=task_record.state if task_record else State.WAITING,
                start_time=task_record.start_time if task_record else None,
                end_time=task_record.end_time if task_record else None,
                level=levels[name],
                upstream=upstream,
                instance_type=node.instance_type,
                cpu_cores=known.cpu_cores if known else None,
                memory_bytes=memory,
                instance_count=spec.instance_count,
                max_retry_count=spec.max_retry_count,
                instances=tuple(
                    _instance(
                        inst, attempts.get((name, inst.instance_id), []), memory, runs, upstream
                    )
                    for inst in instances.get(name, [])
                ),
            )
        )
    runtimes = {
        str(inst.detail.get("runtime"))
        for group in instances.values()
        for inst in group
        if inst.detail.get("runtime")
    }
    return JobReport(
        job_id=record.id,
        name=record.name,
        description=job.description,
        state=record.state,
        message=record.message,
        creation_time=record.creation_time,
        start_time=record.start_time,
        end_time=record.end_time,
        dependencies=dict(job.dependencies),
        tasks=tuple(views),
        runtimes=tuple(sorted(runtimes)),
    )


def _instance(
    record: InstanceRecord,
    attempts: list[AttemptRecord],
    type_memory: int | None,
    runs: dict[int, float],
    upstream: tuple[str, ...],
) -> InstanceView:
    views = []
    previous: AttemptRecord | None = None
    for attempt in attempts:
        before = previous if previous is not None and previous.run == attempt.run else None
        views.append(
            AttemptView(
                **{f.name: getattr(attempt, f.name) for f in fields(AttemptRecord)},
                program_started=program_started(attempt),
                spans=attempt_spans(attempt, before, runs.get(attempt.run), upstream),
                flags=attempt_flags(attempt, type_memory),
            )
        )
        previous = attempt
    detail = record.detail
    stderr_path = str(detail.get("stderr_path", ""))
    tail: tuple[str, ...] = ()
    if record.state == State.FAILED and stderr_path:
        last = attempts[-1] if attempts else None
        offset = last.stderr_offset if last is not None and last.stderr_offset else 0
        tail = last_lines(Path(stderr_path), STDERR_TAIL_LINES, offset)
    return InstanceView(
        instance_id=record.instance_id,
        state=record.state,
        retry_count=record.retry_count,
        exit_code=record.exit_code,
        error_code=record.error_code,
        error_message=record.error_message,
        start_time=record.start_time,
        end_time=record.end_time,
        attempts=tuple(views),
        stdout_path=str(detail.get("stdout_path", "")),
        stderr_path=stderr_path,
        stdout_object=str(detail.get("stdout_object", "")),
        stderr_object=str(detail.get("stderr_object", "")),
        stderr_tail=tail,
    )
