"""The runtime protocol: how one attempt of one instance is started, waited for and stopped.

Runtimes (docker, process, fake) implement a handful of methods; `run_attempt` owns the
rules every runtime shares (timeout, graceful stop then kill, cancellation) so they are
written once. A program that fails is a recorded `AttemptOutcome`, not an exception;
`RuntimeUnavailable` means the runtime itself cannot be used (no daemon, no bwrap).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from localbatch.runtime.usage import MeasuresUsage, UsageProbe, sample_until
from localbatch.storage.needs import WORKDIR as WORKDIR
from localbatch.storage.needs import Need, NeedKind
from localbatch.usage import ResourceUsage, not_measured

log = logging.getLogger(__name__)

#: PATH in Docker mode as the service documents it (no /usr/local/bin): the default image
#: bakes it in and the engine sets it for every instance.
SERVICE_PATH = "/sbin:/usr/sbin:/bin:/usr/bin"
#: Seconds between the graceful stop signal and the kill.
STOP_GRACE_SECONDS = 10.0
#: Error code of an attempt that was cancelled: the scheduler tells a stop from a failure
#: by it (a stopped instance is not retried).
STOPPED_ERROR_CODE = "Stopped"
#: Error code of an attempt the runtime could not start (not the program's fault).
START_FAILED = "InstanceStartFailed"
#: Error codes every runtime gives the same way: the program could not be executed, or it
#: was killed for going over its memory limit; `run_attempt` gives the timeout's.
COMMAND_NOT_FOUND = "CommandNotFound"
OUT_OF_MEMORY = "OutOfMemory"
TIMED_OUT = "Timeout"
#: Labels every attempt carries: a runtime that can label what it starts (Docker) lets a
#: later run tell whose job, task, instance and attempt a leftover belongs to.
LABEL_JOB = "localbatch.job"
LABEL_TASK = "localbatch.task"
LABEL_INSTANCE = "localbatch.instance"
LABEL_ATTEMPT = "localbatch.attempt"


class RuntimeUnavailable(Exception):
    """The runtime cannot be used here; the message says what to install or start."""


class JobRefused(Exception):
    """The runtime cannot run this job at all (no node holds its instance type, a node does
    not see its files): said before anything starts. `parameter` names the job field at
    fault, "" when the cluster is."""

    def __init__(self, message: str, parameter: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter


@dataclass(frozen=True)
class Bind:
    """A host directory or file shown to the program at `target`: how a runtime that
    shares this host's files places a need."""

    source: Path
    target: str
    read_only: bool = True
    #: The directory `source` is to be opened beneath (`Need.root`); None: a path of
    #: localbatch's own, opened as it is.
    root: Path | None = None


@dataclass(frozen=True)
class AttemptSpec:
    """Everything a runtime needs to run one attempt; built by the engine, runtime-neutral."""

    job_id: str
    task_name: str
    instance_id: int
    attempt: int
    #: CommandLine split into words; executed without a shell.
    argv: tuple[str, ...]
    #: The complete environment the program sees.
    env: Mapping[str, str]
    #: What the program sees, as storage describes it: the package view (shown at
    #: WORKDIR), then input/output/log mappings, mounts, data disk.
    needs: tuple[Need, ...] = ()
    #: Image name (the process runtime with the host's files does not use it).
    image: str = ""
    cpu_cores: float = 1.0
    memory_bytes: int = 0
    #: Host files the program's stdout and stderr are appended to while it runs.
    stdout_path: Path = Path("/dev/null")
    stderr_path: Path = Path("/dev/null")
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Keep the container / sandbox directory after a failure (AutoCluster.ReserveOnFail).
    keep_on_failure: bool = False

    @property
    def workdir(self) -> Path:
        """The host directory shown at WORKDIR (the unpacked package, writable)."""
        for need in self.needs:
            if need.kind is NeedKind.PACKAGE:
                return need.source
        raise ValueError(f"attempt {self.attempt} of {self.task_name} has no package view")

    @property
    def binds(self) -> tuple[Bind, ...]:
        """Every other need as a bind of its host path, for runtimes that share this host's
        files (in storage's order)."""
        return tuple(
            Bind(need.source, need.target, need.read_only, need.root)
            for need in self.needs
            if need.kind is not NeedKind.PACKAGE
        )


@dataclass(frozen=True)
class AttemptOutcome:
    """How an attempt ended. `error_code` is "" for a clean exit 0."""

    exit_code: int | None
    error_code: str = ""
    error_message: str = ""
    #: What the attempt used, as its runtime measured it; None when it never started.
    usage: ResourceUsage | None = None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.error_code


class AttemptHandle(Protocol):
    #: A stable reference (container id, pid) recorded so a restarted process can reattach.
    ref: str


class Runtime(Protocol):
    #: "docker", "process", "fake": shown in notices and recorded with each attempt.
    name: str

    def check(self) -> None:
        """Raise RuntimeUnavailable, saying what to install or start, when unusable."""

    def start(self, spec: AttemptSpec) -> AttemptHandle | AttemptOutcome:
        """Start the attempt; an outcome instead of a handle when it could not start
        (ImageNotFound, CommandNotFound, ...)."""

    def wait(self, handle: AttemptHandle, timeout: float | None) -> AttemptOutcome | None:
        """The outcome once ended, or None if still running after `timeout` seconds."""

    def stop(self, handle: AttemptHandle, grace: float) -> None:
        """Ask the program to stop (SIGTERM), kill it after `grace` seconds."""

    def release(self, handle: AttemptHandle, keep: bool) -> None:
        """Free what the attempt used (remove the container) unless `keep`."""


@dataclass(frozen=True)
class Pending:
    """An attempt started but not placed yet: it waits for a node, `reason` says why in the
    cluster's words ("" while it is merely being prepared)."""

    reason: str = ""


@runtime_checkable
class PlacesAttempts(Protocol):
    """A runtime whose attempts wait for a place to run (a cluster's scheduler): the
    attempt's Timeout counts from its placement, and while it waits the engine shows why."""

    def placement(self, handle: AttemptHandle, timeout: float) -> Pending | AttemptOutcome | None:
        """None once placed (running, or already ran); Pending while it waits (after up to
        `timeout` seconds); an outcome when it ended without running (rejected)."""


@dataclass(frozen=True)
class Node:
    """One machine a cluster runtime may place instances on, as the cluster reports it."""

    name: str
    cpu_cores: float
    memory_bytes: int


@runtime_checkable
class SpansNodes(Protocol):
    """A runtime on a cluster: its capacity is its nodes', not this host's."""

    def nodes(self) -> tuple[Node, ...]:
        """The nodes instances may be placed on now (ready, available, eligible)."""

    def describe_nodes(self, nodes: tuple[Node, ...]) -> str:
        """What these nodes are, for the user ("swarm of 2 nodes (...)")."""


@runtime_checkable
class ChecksJobs(Protocol):
    """A runtime that checks, before a job starts, what only it can know (JobRefused)."""

    def check_job(self, shared: tuple[Path, ...], images: tuple[str, ...]) -> None:
        """Raise JobRefused unless every node that may run an instance sees each of the
        `shared` directories (the same files as this host) and can run `images`."""


@runtime_checkable
class PullsImages(Protocol):
    """A runtime that can pull an image its engine lacks (`--pull`) instead of failing the
    attempt with ImageNotFound."""

    pull: bool


@runtime_checkable
class ChecksImages(Protocol):
    """A runtime that can tell, before anything starts, whether an image is usable."""

    def image_problem(self, image: str, env: Mapping[str, str]) -> str | None:
        """Why an attempt of `image` (with the environment `env`, which may name an
        OSS-backed registry) could not start here, found without bringing anything; None
        when it can."""


@runtime_checkable
class FindsPrograms(Protocol):
    """A runtime that can tell, before anything starts, which programs an attempt sees."""

    def executables(
        self, image: str, paths: Sequence[str], env: Mapping[str, str]
    ) -> frozenset[str] | None:
        """Which of these absolute paths are executable files in what an attempt of `image`
        sees besides its work directory and binds (the image, or this host's system
        files); None when that cannot be known (the image is not there yet, or its
        ENTRYPOINT takes the command line as arguments)."""


@runtime_checkable
class Terminates(Protocol):
    """A runtime that can send an attempt the graceful stop signal alone, so that the
    wait before the kill can be cut short (a second Ctrl-C)."""

    def terminate(self, handle: AttemptHandle) -> None:
        """SIGTERM to the program (and its children); nothing more."""


def attempt_labels(job_id: str, task_name: str, instance_id: int, attempt: int) -> dict[str, str]:
    """The labels naming one attempt, written once for the engine and the runtimes."""
    return {
        LABEL_JOB: job_id,
        LABEL_TASK: task_name,
        LABEL_INSTANCE: str(instance_id),
        LABEL_ATTEMPT: str(attempt),
    }


def placed_on(handle: AttemptHandle) -> tuple[str, str]:
    """The node (host name, address) a cluster runtime placed the attempt on; ("", "") on
    a runtime of this one machine."""
    return str(getattr(handle, "node", "") or ""), str(getattr(handle, "node_ip", "") or "")


def file_size(path: Path) -> int:
    """The size of a log file, 0 while it does not exist: where what is appended next
    begins (every attempt of an instance appends to the same files)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def uses_images(runtime: Runtime) -> bool:
    """Whether the runtime honours `AttemptSpec.image` (the process runtime does not when it
    shows the host's files), so the engine can say once that image names are ignored.
    Absent attribute means it does."""
    return bool(getattr(runtime, "uses_images", True))


def run_attempt(
    runtime: Runtime,
    spec: AttemptSpec,
    timeout: float,
    cancel: threading.Event,
    on_started: Callable[[AttemptHandle], None] | None = None,
    poll: float = 0.2,
    grace: float = STOP_GRACE_SECONDS,
    kill: threading.Event | None = None,
    on_waiting: Callable[[str], None] | None = None,
) -> AttemptOutcome:
    """Run one attempt to its end: enforce `timeout`, honour `cancel`, always release.

    On timeout or cancel the program gets SIGTERM and `grace` seconds before it is killed;
    `kill` set (now or during those seconds) kills it at once. While it runs, the runtime's
    usage probe (if it has one) is sampled; its figures go into the outcome, read before
    the runtime releases the attempt. On a runtime that places attempts
    (`PlacesAttempts`), `on_waiting` hears why it waits each time that changes,
    `on_started` is called once it is placed, and `timeout` counts from then.
    """
    started = runtime.start(spec)
    if isinstance(started, AttemptOutcome):
        return started
    handle = started
    outcome: AttemptOutcome | None = None
    probe: UsageProbe | None = None
    stopping = _Stopping(runtime, handle, grace, poll, kill)
    try:
        outcome = _await_placement(runtime, handle, cancel, on_waiting, poll, stopping)
        if outcome is None:
            probe = _probe(runtime, handle, spec)
            if on_started is not None:
                on_started(handle)
            outcome = _await_end(runtime, handle, timeout, cancel, poll, stopping, probe)
        outcome = replace(outcome, usage=_finish(runtime, probe, outcome))
    finally:
        runtime.release(handle, keep=spec.keep_on_failure and not (outcome and outcome.succeeded))
    return outcome


def _await_placement(
    runtime: Runtime,
    handle: AttemptHandle,
    cancel: threading.Event,
    on_waiting: Callable[[str], None] | None,
    poll: float,
    stopping: _Stopping,
) -> AttemptOutcome | None:
    """None once the attempt is placed (at once on a runtime that does not place); its
    outcome when it was stopped, or could not run, while it waited."""
    if not isinstance(runtime, PlacesAttempts):
        return None
    said = ""  # nothing to say while it is merely being prepared
    while not cancel.is_set():
        placement = runtime.placement(handle, poll)
        if not isinstance(placement, Pending):
            return placement
        if on_waiting is not None and placement.reason != said:
            on_waiting(placement.reason)
        said = placement.reason
    return stopping.stop(STOPPED_ERROR_CODE, "The instance was stopped before it was placed.")


def _await_end(
    runtime: Runtime,
    handle: AttemptHandle,
    timeout: float,
    cancel: threading.Event,
    poll: float,
    stopping: _Stopping,
    probe: UsageProbe | None,
) -> AttemptOutcome:
    """Wait for the running attempt's end, stopping it on cancel or at its Timeout, and
    sampling its usage meanwhile."""
    deadline = time.monotonic() + timeout
    tick = sample_until(probe, time.monotonic) if probe is not None else None
    while True:
        if cancel.is_set():
            return stopping.stop(STOPPED_ERROR_CODE, "The instance was stopped.")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            ended = runtime.wait(handle, 0)  # it may have ended just in time
            if ended is not None:
                return ended
            message = f"The instance did not end within its Timeout of {timeout:g} s."
            return stopping.stop(TIMED_OUT, message)
        next_sample = tick() if tick is not None else poll
        outcome = runtime.wait(handle, min(poll, remaining, max(next_sample, 0.01)))
        if outcome is not None:
            return outcome


@dataclass
class _Stopping:
    """Stopping a running attempt: SIGTERM, `grace` seconds, kill; cut short by `kill`."""

    runtime: Runtime
    handle: AttemptHandle
    grace: float
    poll: float
    kill: threading.Event | None

    def stop(self, error_code: str, message: str) -> AttemptOutcome:
        """Stop it and record why, with its exit code when it ended within the wait."""
        if self.kill is not None and isinstance(self.runtime, Terminates):
            self._terminate_until_killed()
            self.runtime.stop(self.handle, 0)  # kills what still runs; nothing if it ended
        else:
            killing = self.kill is not None and self.kill.is_set()
            self.runtime.stop(self.handle, 0 if killing else self.grace)
        ended = self.runtime.wait(self.handle, self.grace + 5)
        return AttemptOutcome(
            exit_code=ended.exit_code if ended else None,
            error_code=error_code,
            error_message=message,
        )

    def _terminate_until_killed(self) -> None:
        """SIGTERM, then wait for the end, the grace period or the kill, whichever first."""
        assert self.kill is not None and isinstance(self.runtime, Terminates)
        if self.kill.is_set():
            return
        self.runtime.terminate(self.handle)
        deadline = time.monotonic() + self.grace
        while not self.kill.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.runtime.wait(self.handle, min(self.poll, remaining)):
                return


def _probe(runtime: Runtime, handle: AttemptHandle, spec: AttemptSpec) -> UsageProbe | None:
    """The runtime's probe on the attempt; None when it has none or cannot make one (the
    attempt runs on, its usage recorded as not measured)."""
    if not isinstance(runtime, MeasuresUsage):
        return None
    try:
        return runtime.usage_probe(handle, spec.memory_bytes, spec.cpu_cores)
    except Exception:
        log.exception("no usage probe on attempt %s of %s", spec.attempt, spec.task_name)
        return None


def _finish(runtime: Runtime, probe: UsageProbe | None, outcome: AttemptOutcome) -> ResourceUsage:
    """The attempt's figures; a probe that fails never fails the attempt."""
    if probe is None:
        return not_measured(f"the {runtime.name} runtime does not measure resource use")
    try:
        return probe.finish(oom_killed=outcome.error_code == OUT_OF_MEMORY)
    except Exception as exc:
        log.exception("reading the usage of an attempt failed")
        return not_measured(f"reading the attempt's resource use failed: {exc}")
