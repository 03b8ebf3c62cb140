"""`localbatch start` with no server: re-run (or recover) a recorded job in the foreground.

The job's finished instances are kept; the others run on this machine like `localbatch run`
runs a new job: their output as they write it, one line per event, Ctrl-C or SIGTERM stops
the job.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from rich.console import Console

from localbatch.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_JOB_FAILED,
    EXIT_OK,
    Config,
    check_oss_root,
    choose_runtime,
    fail,
    open_local,
    open_store,
)
from localbatch.cli.job_views import print_json
from localbatch.cli.run_output import PlainScreen, follow_output
from localbatch.cli.run_progress import PlainProgress, summary_json
from localbatch.cli.stop_signal import (
    close_uninterrupted,
    stop_on_interrupt,
    terminate_as_interrupt,
)
from localbatch.runtime.base import JobRefused
from localbatch.spec.errors import ApiError
from localbatch.states import State
from localbatch.storage.layout import job_dir, logs_dir

if TYPE_CHECKING:
    from localbatch.application.stack import LocalService

EXIT_FOR_STATE = {State.FINISHED: EXIT_OK, State.STOPPED: EXIT_INTERRUPTED}


def start_here(
    config: Config,
    job_id: str,
    runtime_choice: str | None,
    as_json: bool = False,
    quiet: bool = False,
) -> int:
    """Run the job's unfinished instances here; the exit status `localbatch run` would give.

    The programs' output is shown as they write it, as `run` shows it (not with `quiet`).
    With `as_json`, progress and output go to stderr and the final summary to stdout as
    JSON.
    """
    from localbatch.application.foreground import (
        start_or_recover,
        tell_preparation,
        wait_for_end,
    )

    open_store(config).close()  # before anything starts: one line, exit 2
    check_oss_root(config)
    local = open_local(config, choose_runtime(config, runtime_choice))
    # With --json, stdout holds the summary alone: progress and output go to stderr.
    stream = sys.stderr if as_json else sys.stdout
    screen = PlainScreen(stream.buffer)
    follower = None
    if not quiet:
        counts = _instance_counts(local, job_id)
        follower = follow_output(local.bus, counts, screen, Console(file=stream))
    progress = PlainProgress(screen)
    local.bus.subscribe(progress)  # after the follower: an attempt's lines come first
    tell_preparation(local, progress.preparation)
    try:
        with terminate_as_interrupt():
            try:
                start_or_recover(local, job_id, lambda line: click.echo(line, err=True))
                status = EXIT_FOR_STATE.get(wait_for_end(local, job_id), EXIT_JOB_FAILED)
            except ApiError as error:
                fail(f"{error.code}: {error.message}", EXIT_INVALID)
            except JobRefused as refused:
                fail(f"the job cannot run on this runtime: {refused.message}")
            except KeyboardInterrupt:
                stop_on_interrupt(local, job_id, lambda line: click.echo(line, err=True))
                status = EXIT_INTERRUPTED
        snapshot = local.service.snapshot(job_id)
        if as_json and snapshot is not None:
            logs = logs_dir(job_dir(config.state_dir, job_id))
            print_json(summary_json(snapshot, logs, (), status))
    finally:
        if follower is not None:
            follower.close()
        close_uninterrupted(local.close)
    return status


def _instance_counts(local: LocalService, job_id: str) -> dict[str, int]:
    """Per task of the job, how many instances it has (for the output's prefixes)."""
    try:
        job = local.service.model(job_id)
    except ApiError:  # not recorded: the start says so itself
        return {}
    return {name: task.instance_count for name, task in job.tasks.items()}
