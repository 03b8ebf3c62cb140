"""Running a job to its end in this process: what `localbatch run` and `localbatch start`
share.

The surface opens the local stack, subscribes its progress display, hands the job over
(`JobService.record` then `submit`, or `start_or_recover`), then waits with `wait_for_end`.
On Ctrl-C it asks `begin_stop` (which says how many instances get SIGTERM and how long
they have) and waits with `wait_for_stop`; a second Ctrl-C asks `kill_now`. Closing the
stack stops whatever still runs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from localbatch.application.stack import LocalService
from localbatch.engine.service import Engine, UnknownJob
from localbatch.runtime.base import STOP_GRACE_SECONDS
from localbatch.runtime.image_supply import PreparationListener, TellsPreparation
from localbatch.states import State, StateConflict
from localbatch.store import runner_alive

#: Seconds between two looks at the job while waiting for it.
WAIT_STEP = 0.5
#: How long an interrupted job is given to end Stopped before the stack is closed anyway.
STOP_WAIT_SECONDS = 60.0


def _engine(local: LocalService) -> Engine:
    if local.engine is None:
        raise RuntimeError("this stack was opened without a runtime: it runs no job")
    return local.engine


def start_or_recover(local: LocalService, job_id: str, say: Callable[[str], None]) -> None:
    """Run a recorded job's unfinished instances here: recover it when its runner died
    (saying so), else start it by the service's rules (ApiError when they refuse)."""
    record = local.service.job(job_id)
    if not record.state.terminal and not runner_alive(record.runner):
        assert local.recovery is not None  # a stack with an engine has recovery
        say(f"{job_id}: its runner is gone; recovering it here")
        local.recovery.take_over(record)
    else:
        local.service.start(job_id)


def tell_preparation(local: LocalService, listener: PreparationListener) -> None:
    """Show with the run's progress the images its runtime prepares on first use (the
    sandbox unpacks one, Docker pulls or loads one, for many seconds while its instances
    wait)."""
    runtime = _engine(local).runtime
    if isinstance(runtime, TellsPreparation):
        runtime.tell_preparation(listener)


def wait_for_end(local: LocalService, job_id: str) -> State:
    """The job's final state, once it ended; a job recovery has not handed to the engine
    yet is followed in the store meanwhile."""
    engine = _engine(local)
    state: State | None = None
    while state is None:
        try:
            state = engine.wait(job_id, WAIT_STEP)
        except UnknownJob:
            current = local.service.job(job_id).state
            state = current if current.terminal else None
            time.sleep(WAIT_STEP)
    return state


@dataclass(frozen=True)
class Stopping:
    """What a stop does now: how many instances run (they get SIGTERM) and how many
    seconds they have before they are killed."""

    running: int
    grace: float = STOP_GRACE_SECONDS


def _running(engine: Engine, job_id: str) -> int:
    """Instances whose attempt runs now."""
    with contextlib.suppress(UnknownJob, KeyError):
        return engine.snapshot(job_id).instance_metrics.running
    return 0


def begin_stop(local: LocalService, job_id: str) -> Stopping:
    """Stop the job (waiting instances at once, running ones with SIGTERM, killed after the
    grace period) without waiting for it; what it does, for the surface to say."""
    engine = _engine(local)
    stopping = Stopping(_running(engine, job_id), engine.stop_grace)
    # Not handed to the engine yet (the scheduler's KeyError), or already ending.
    with contextlib.suppress(UnknownJob, KeyError, StateConflict):
        engine.stop(job_id)
    return stopping


def kill_now(local: LocalService, job_id: str) -> int:
    """Kill the job's running instances at once, also those already given SIGTERM; how
    many run now."""
    engine = _engine(local)
    running = _running(engine, job_id)
    with contextlib.suppress(UnknownJob, KeyError):
        engine.kill(job_id)
    return running


def wait_for_stop(
    local: LocalService, job_id: str, timeout: float = STOP_WAIT_SECONDS
) -> State | None:
    """The job's final state once it ended (None after `timeout` seconds, or when it never
    reached the engine)."""
    try:
        return _engine(local).wait(job_id, timeout)
    except UnknownJob:
        return None
