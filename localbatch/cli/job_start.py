"""`localbatch start` with no server: re-run (or recover) a recorded job in the foreground.

The job's finished instances are kept; the others run on this machine like `localbatch run`
runs a new job: one line per event, Ctrl-C or SIGTERM stops the job.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import TYPE_CHECKING

import click

from localbatch.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_JOB_FAILED,
    EXIT_OK,
    Config,
    fail,
    open_local,
)
from localbatch.cli.job_views import print_json
from localbatch.cli.run_progress import PlainProgress, summary_json
from localbatch.cli.stop_signal import terminate_as_interrupt  # SIGTERM ends it like Ctrl-C
from localbatch.engine.service import Engine, UnknownJob
from localbatch.spec.errors import ApiError
from localbatch.states import State
from localbatch.storage.layout import job_dir, logs_dir
from localbatch.store import runner_alive

if TYPE_CHECKING:
    from localbatch.jobservice import JobService
    from localbatch.recovery import Recovery

#: Seconds between two looks at the job while waiting for it.
WAIT_STEP = 0.5
EXIT_FOR_STATE = {State.FINISHED: EXIT_OK, State.STOPPED: EXIT_INTERRUPTED}


def start_here(config: Config, job_id: str, runtime_choice: str, as_json: bool = False) -> int:
    """Run the job's unfinished instances here; the exit status `localbatch run` would give.

    With `as_json`, progress goes to stderr and the final summary to stdout as JSON.
    """
    from localbatch.runtime.base import RuntimeUnavailable
    from localbatch.server.runtime_choice import select_sparing_runtime

    try:
        runtime, notice = select_sparing_runtime(runtime_choice, config)
    except RuntimeUnavailable as exc:
        fail(str(exc))
    click.echo(notice, err=True)
    local = open_local(config, runtime)
    assert local.engine is not None and local.recovery is not None
    local.bus.subscribe(PlainProgress(sys.stderr if as_json else sys.stdout))
    try:
        with terminate_as_interrupt():
            try:
                state = _start_and_wait(local.service, local.engine, local.recovery, job_id)
                status = EXIT_FOR_STATE.get(state, EXIT_JOB_FAILED)
            except ApiError as error:
                fail(f"{error.code}: {error.message}", EXIT_INVALID)
            except KeyboardInterrupt:
                click.echo("interrupted: stopping the job", err=True)
                _stop_and_wait(local.engine, job_id)
                status = EXIT_INTERRUPTED
        if as_json and job_id in local.engine.job_ids():
            logs = logs_dir(job_dir(config.state_dir, job_id))
            print_json(summary_json(local.engine.snapshot(job_id), logs, (), status))
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            local.close()
    return status


def _start_and_wait(service: JobService, engine: Engine, recovery: Recovery, job_id: str) -> State:
    """Start the job here, or recover it when its runner is gone; answers how it ended."""
    record = service.job(job_id)
    if not record.state.terminal and not runner_alive(record.runner):
        click.echo(f"{job_id}: its runner is gone; recovering it here", err=True)
        recovery.take_over(record)
    else:
        service.start(job_id)
    state: State | None = None
    while state is None:
        try:
            state = engine.wait(job_id, WAIT_STEP)
        except UnknownJob:  # recovery has not handed it to the engine (yet)
            current = service.job(job_id).state
            state = current if current.terminal else None
            time.sleep(WAIT_STEP)
    return state


def _stop_and_wait(engine: Engine, job_id: str) -> None:
    """Ctrl-C: stop the job and give it a minute to end (a second Ctrl-C gives up)."""
    with contextlib.suppress(Exception):
        engine.stop(job_id)
    with contextlib.suppress(KeyboardInterrupt, UnknownJob):
        engine.wait(job_id, 60)
