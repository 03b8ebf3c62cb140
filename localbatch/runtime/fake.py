"""An in-memory runtime with scripted outcomes, for fast tests and the scheduler benchmark.

Nothing is executed. Each attempt follows a `FakeStep` chosen by (task, instance, attempt),
most specific first: it can exit with any code, fail to start with an error code, take a
real duration, wait for a gate the test opens, or hang until stopped. Every spec it was
given is kept, so tests can check what a program would have seen.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localbatch.runtime.base import WORKDIR, AttemptHandle, AttemptOutcome, AttemptSpec
from localbatch.runtime.usage import UsageProbe
from localbatch.usage import ResourceUsage, not_measured

#: The exit status of a program killed by SIGTERM, as shells report it.
SIGTERM_EXIT = 143


@dataclass(frozen=True)
class FakeStep:
    """How one scripted attempt behaves."""

    exit_code: int | None = 0
    error_code: str = ""
    error_message: str = ""
    #: Real seconds the attempt runs before ending.
    duration: float = 0.0
    #: Runs until stopped (for timeout and stop tests).
    hang: bool = False
    #: Ends only once this event is set (then with the outcome above).
    gate: threading.Event | None = None
    #: The outcome is returned by start(): the attempt could not start at all.
    fails_to_start: bool = False
    #: Ignores SIGTERM (`terminate`): only a kill (`stop`, after its grace) ends it.
    ignores_term: bool = False
    #: Written to the attempt's stdout and stderr files, as a program would.
    stdout: str = ""
    stderr: str = ""
    #: Files the "program" writes: path as the program sees it -> content.
    writes: Mapping[str, str] = field(default_factory=dict)
    #: What the attempt reports it used (`ResourceUsage`'s fields, source "fake"); None:
    #: not measured, as nothing runs.
    usage: Mapping[str, Any] | None = None

    @property
    def outcome(self) -> AttemptOutcome:
        return AttemptOutcome(self.exit_code, self.error_code, self.error_message)


@dataclass
class FakeHandle:
    ref: str
    spec: AttemptSpec
    step: FakeStep
    started_at: float
    stopped: threading.Event = field(default_factory=threading.Event)


def host_path(spec: AttemptSpec, target: str) -> Path:
    """Where a path the program sees lives on the host (through the attempt's binds)."""
    mounts = [(WORKDIR, spec.workdir)] + [(b.target, b.source) for b in spec.binds]
    for inside, outside in sorted(mounts, key=lambda m: len(m[0]), reverse=True):
        prefix = inside.rstrip("/")
        if target == prefix or target.startswith(prefix + "/"):
            return outside / target[len(prefix) :].lstrip("/")
    raise ValueError(f"{target} is not inside the work directory or a bind of the attempt")


@dataclass
class ScriptedUsage:
    """The usage probe of a fake attempt: what its step says, or "not measured"."""

    step: FakeStep
    memory_limit: int
    cpu_cores: float
    interval: float = 3600.0

    def sample(self) -> None:
        """Nothing runs: nothing to read."""

    def finish(self, oom_killed: bool) -> ResourceUsage:
        if self.step.usage is None:
            return not_measured("the fake runtime runs nothing")
        fields: dict[str, Any] = {
            "source": "fake",
            "memory_limit_bytes": self.memory_limit or None,
            "cpu_limit_cores": self.cpu_cores,
            **self.step.usage,
        }
        return ResourceUsage(**fields)


def _own(handle: AttemptHandle) -> FakeHandle:
    if not isinstance(handle, FakeHandle):
        raise TypeError(f"not a fake runtime handle: {handle!r}")
    return handle


class FakeRuntime:
    """A `Runtime` whose attempts follow a script; thread-safe like the real ones."""

    name = "fake"
    uses_images = False

    def __init__(self, default: FakeStep | None = None) -> None:
        self.default = default or FakeStep()
        self._script: dict[tuple[str, int | None, int | None], FakeStep] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        #: Every spec start() received, in order.
        self.started: list[AttemptSpec] = []
        self.running: dict[str, FakeHandle] = {}
        self.stopped: list[str] = []
        #: (ref, grace) of every stop() call, and the refs terminate() was called for.
        self.stops: list[tuple[str, float]] = []
        self.terminated: list[str] = []
        self.released: list[tuple[str, bool]] = []
        self.max_running = 0

    def script(
        self, task: str, step: FakeStep, *, instance: int | None = None, attempt: int | None = None
    ) -> None:
        """Use `step` for that task (and, when given, that instance and attempt)."""
        self._script[(task, instance, attempt)] = step

    def step_for(self, spec: AttemptSpec) -> FakeStep:
        for key in (
            (spec.task_name, spec.instance_id, spec.attempt),
            (spec.task_name, spec.instance_id, None),
            (spec.task_name, None, spec.attempt),
            (spec.task_name, None, None),
        ):
            if key in self._script:
                return self._script[key]
        return self.default

    # ------------------------------------------------------------- protocol
    def check(self) -> None:
        """Always usable."""

    def start(self, spec: AttemptSpec) -> FakeHandle | AttemptOutcome:
        step = self.step_for(spec)
        with self._lock:
            self.started.append(spec)
            if step.fails_to_start:
                self._lock.notify_all()
                return step.outcome
            handle = FakeHandle(f"fake-{next(self._ids)}", spec, step, time.monotonic())
            self.running[handle.ref] = handle
            self.max_running = max(self.max_running, len(self.running))
            self._lock.notify_all()
        for text, path in ((step.stdout, spec.stdout_path), (step.stderr, spec.stderr_path)):
            if text and path != Path("/dev/null"):
                with path.open("a") as out:
                    out.write(text)
        for target, content in step.writes.items():
            host = host_path(spec, target)
            host.parent.mkdir(parents=True, exist_ok=True)
            host.write_text(content)
        return handle

    def wait(self, handle: AttemptHandle, timeout: float | None) -> AttemptOutcome | None:
        fake = _own(handle)
        step = fake.step
        if step.hang:
            fake.stopped.wait(timeout)
            ended = fake.stopped.is_set()
        elif step.gate is not None:
            ended = step.gate.wait(timeout) or fake.stopped.is_set()
        else:
            remaining = fake.started_at + step.duration - time.monotonic()
            if remaining > 0:
                fake.stopped.wait(remaining if timeout is None else min(remaining, timeout))
            ended = fake.stopped.is_set() or time.monotonic() >= fake.started_at + step.duration
        if not ended:
            return None
        if fake.stopped.is_set():
            return AttemptOutcome(SIGTERM_EXIT)
        return step.outcome

    def terminate(self, handle: AttemptHandle) -> None:
        """SIGTERM: ends the attempt unless its step ignores it."""
        fake = _own(handle)
        with self._lock:
            self.terminated.append(handle.ref)
        if not fake.step.ignores_term:
            fake.stopped.set()

    def usage_probe(self, handle: object, memory_limit: int, cpu_cores: float) -> UsageProbe:
        """The step's scripted usage (not measured unless the step says)."""
        assert isinstance(handle, FakeHandle)
        return ScriptedUsage(handle.step, memory_limit, cpu_cores)

    def stop(self, handle: AttemptHandle, grace: float) -> None:
        fake = _own(handle)
        with self._lock:
            self.stopped.append(handle.ref)
            self.stops.append((handle.ref, grace))
        if fake.step.ignores_term:
            fake.stopped.wait(grace)  # SIGTERM does nothing: the kill comes after the grace
        fake.stopped.set()

    def release(self, handle: AttemptHandle, keep: bool) -> None:
        with self._lock:
            self.running.pop(handle.ref, None)
            self.released.append((handle.ref, keep))
            self._lock.notify_all()

    # ---------------------------------------------------------- test helpers
    def wait_running(self, count: int, timeout: float = 10.0) -> bool:
        """Block until exactly `count` attempts run at once."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.running) == count, timeout)
