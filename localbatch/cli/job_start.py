"""`localbatch start` with no server: re-run (or recover) a recorded job in the foreground.

The job's finished instances are kept; the others run on this machine like `localbatch run`
runs a new job: one line per event, Ctrl-C or SIGTERM stops the job.
"""

from __future__ import annotations

import sys

import click

from localbatch.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_JOB_FAILED,
    EXIT_OK,
    Config,
    choose_runtime,
    fail,
    open_local,
)
from localbatch.cli.run_progress import PlainProgress
from localbatch.cli.stop_signal import (
    close_uninterrupted,
    stop_on_interrupt,
    terminate_as_interrupt,
)
from localbatch.spec.errors import ApiError
from localbatch.states import State

EXIT_FOR_STATE = {State.FINISHED: EXIT_OK, State.STOPPED: EXIT_INTERRUPTED}


def start_here(config: Config, job_id: str, runtime_choice: str) -> int:
    """Run the job's unfinished instances here; the exit status `localbatch run` would give."""
    from localbatch.application.foreground import start_or_recover, wait_for_end

    local = open_local(config, choose_runtime(config, runtime_choice))
    local.bus.subscribe(PlainProgress(sys.stdout))
    try:
        with terminate_as_interrupt():
            try:
                start_or_recover(local, job_id, lambda line: click.echo(line, err=True))
                state = wait_for_end(local, job_id)
            except ApiError as error:
                fail(f"{error.code}: {error.message}", EXIT_INVALID)
            except KeyboardInterrupt:
                stop_on_interrupt(local, job_id, lambda line: click.echo(line, err=True))
                return EXIT_INTERRUPTED
    finally:
        close_uninterrupted(local.close)
    return EXIT_FOR_STATE.get(state, EXIT_JOB_FAILED)
