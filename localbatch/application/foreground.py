"""Running a job to its end in this process: what `localbatch run` and `localbatch start`
share.

The surface opens the local stack, subscribes its progress display, hands the job over
(`JobService.record` then `submit`, or `start_or_recover`), then waits with `wait_for_end`;
on Ctrl-C it asks `stop_and_wait`. Closing the stack stops whatever still runs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from localbatch.application.stack import LocalService
from localbatch.engine.service import Engine, UnknownJob
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


def stop_and_wait(local: LocalService, job_id: str) -> State | None:
    """Ctrl-C: stop the job and give it a minute to end; None when it never reached the
    engine, or when a second Ctrl-C gives up waiting (closing the stack still stops it)."""
    engine = _engine(local)
    # Not handed to the engine yet (the scheduler's KeyError), or already ending.
    with contextlib.suppress(UnknownJob, KeyError, StateConflict):
        engine.stop(job_id)
    try:
        return engine.wait(job_id, STOP_WAIT_SECONDS)
    except (UnknownJob, KeyboardInterrupt):
        return None
