"""Scheduler benchmark: a 1,000-task DAG of no-op instances on the in-memory fake runtime.

Three measurements in one run:
- the pure scheduler alone (no threads): submit, then answer every launch with "started"
  and "ended" at once; its time per instance is the scheduling cost (target <= 1 ms);
- the whole engine (engine thread, one worker thread per attempt, events published);
- the baseline: the same 1,000 no-op attempts through `run_attempt` in a plain loop.
The ratio engine / baseline says what the engine adds around the runtime calls.
Run standalone: `.venv/bin/python -m bench.bench_scheduler`.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from localbatch.config import load_config
from localbatch.engine.capacity import HostCapacity, Resources
from localbatch.engine.scheduler import JobPlan, Launch, Scheduler, TaskPlan
from localbatch.engine.service import Engine
from localbatch.events import Event, EventBus
from localbatch.plan import levels
from localbatch.runtime.base import AttemptOutcome, AttemptSpec, run_attempt
from localbatch.runtime.fake import FakeRuntime
from localbatch.spec.model import Job, parse_job
from localbatch.states import State
from localbatch.storage.needs import package_view

TASKS = 1000
PARALLEL = 4
SEED = 7


def dag(tasks: int = TASKS, seed: int = SEED) -> dict[str, list[str]]:
    """upstream -> downstream: every task after one or two random earlier tasks."""
    rng = random.Random(seed)
    deps: dict[str, list[str]] = {}
    for i in range(1, tasks):
        for up in {rng.randrange(max(0, i - 50), i) for _ in range(rng.randint(1, 2))}:
            deps.setdefault(f"t{up:04d}", []).append(f"t{i:04d}")
    return deps


def job_body(deps: dict[str, list[str]], tasks: int = TASKS) -> Job:
    task = {
        "InstanceCount": 1,
        "Timeout": 60,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
        "Parameters": {"Command": {"CommandLine": "true"}},
    }
    return parse_job(
        {
            "Name": "bench",
            "DAG": {"Tasks": {f"t{i:04d}": dict(task) for i in range(tasks)}, "Dependencies": deps},
        }
    )


def pure_scheduler(deps: dict[str, list[str]]) -> float:
    """Seconds the scheduler alone needs to run the whole DAG."""
    upstream: dict[str, set[str]] = {f"t{i:04d}": set() for i in range(TASKS)}
    for up, downs in deps.items():
        for down in downs:
            upstream[down].add(up)
    plan = JobPlan(
        job_id="job-bench",
        name="bench",
        tasks=tuple(
            TaskPlan(name, 1, 0, Resources(1.0, 1), frozenset(ups), tuple(deps.get(name, ())))
            for name, ups in upstream.items()
        ),
    )
    started = time.perf_counter()
    scheduler = Scheduler(HostCapacity.unlimited(max_parallel=PARALLEL))
    pending = [a for a in scheduler.submit(plan, 0.0) if isinstance(a, Launch)]
    done = 0
    while pending:
        launch = pending.pop()
        scheduler.started(launch.job_id, launch.task_name, launch.instance_id, 1.0, {})
        actions = scheduler.ended(
            launch.job_id, launch.task_name, launch.instance_id, AttemptOutcome(0), 2.0
        )
        pending += [a for a in actions if isinstance(a, Launch)]
        done += 1
    elapsed = time.perf_counter() - started
    assert done == TASKS and scheduler.jobs["job-bench"].state == State.FINISHED
    return elapsed


class _NoStorage:
    """Storage that prepares nothing: the benchmark measures scheduling, not files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self, task_name: str, instance_id: int, attempt: int) -> Any:
        class Prepared:
            workdir = self.root
            needs = (package_view(self.root),)
            stdout_path = Path("/dev/null")
            stderr_path = Path("/dev/null")
            stdout_object = ""
            stderr_object = ""

            def start_streaming(self) -> None:
                return None

        return Prepared()

    def finish(self, prepared: Any, *, keep: bool = False) -> None:
        return None

    def close(self) -> None:
        return None


def whole_engine(job: Job, root: Path) -> tuple[float, int]:
    """Seconds the engine needs for the job, and the number of events it published."""
    config = load_config(root / "none.toml", env={}, state_dir=root / "state")
    bus = EventBus()
    count = [0]
    lock = threading.Lock()

    def counter(_: Event) -> None:
        with lock:
            count[0] += 1

    bus.subscribe(counter)
    engine = Engine(
        config,
        FakeRuntime(),
        bus,
        storage_factory=lambda *_: _NoStorage(root),
        capacity=HostCapacity.unlimited(max_parallel=PARALLEL),
    )
    try:
        levels(job)  # networkx is imported once per process; not a cost of this job
        started = time.perf_counter()
        engine.submit("job-bench", job)
        state = engine.wait("job-bench", 120)
        elapsed = time.perf_counter() - started
        assert state == State.FINISHED, state
    finally:
        engine.shutdown()
    return elapsed, count[0]


def baseline(root: Path) -> float:
    """The same number of no-op attempts through run_attempt, in a plain loop."""
    runtime = FakeRuntime()
    never = threading.Event()
    started = time.perf_counter()
    for i in range(TASKS):
        spec = AttemptSpec("job-bench", f"t{i:04d}", 0, 0, ("true",), {}, (package_view(root),))
        run_attempt(runtime, spec, 60.0, never)
    return time.perf_counter() - started


def main() -> dict[str, Any]:
    deps = dag()
    job = job_body(deps)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pure = pure_scheduler(deps)
        engine, events = whole_engine(job, root)
        base = baseline(root)
    return {
        "tasks": TASKS,
        "parallel": PARALLEL,
        "scheduler_ms_per_instance": round(pure / TASKS * 1000, 4),
        "engine_ms_per_instance": round(engine / TASKS * 1000, 3),
        "baseline_ms_per_instance": round(base / TASKS * 1000, 3),
        "engine_over_baseline_ms_per_instance": round((engine - base) / TASKS * 1000, 3),
        "ratio_engine_to_baseline": round(engine / base, 2) if base else None,
        "events": events,
        "target_scheduler_ms_per_instance": 1.0,
        "ok": pure / TASKS * 1000 <= 1.0,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
