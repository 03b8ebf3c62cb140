"""`localbatch run FILE`: validate a job, check it, then run it here as the service would.

Before anything starts, the checks of `application.preflight` list every problem that would
make a task's every attempt fail (exit 2, no job recorded; `--no-preflight` skips them).
While the job runs, its progress and its programs' output are shown (`--quiet`: progress
only); at the end, a summary that explains each failed instance.

Exit status: 0 Finished, 1 invalid job, 2 unusable invocation, no runtime or problems
found before the run, 3 Failed, 130 interrupted (the job ends Stopped; everything this
run started is stopped and removed).
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from localbatch.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    RUNTIME_DEFAULT_HELP,
    Config,
    check_oss_root,
    choose_runtime,
    config_options,
    fail,
    open_local,
    open_store,
)
from localbatch.cli.job_views import print_json
from localbatch.cli.preflight_report import PREFLIGHT_HINT, checked_or_exit, print_problems
from localbatch.cli.stop_signal import (
    close_uninterrupted,
    stop_on_interrupt,
    terminate_as_interrupt,
)
from localbatch.cli.validate import valid_body_or_exit
from localbatch.runtime.registry import choices, describe_choices
from localbatch.states import State

if TYPE_CHECKING:
    from rich.console import Console

    from localbatch.application.stack import LocalService
    from localbatch.cli.run_output import PlainScreen, TerminalScreen
    from localbatch.engine.dry_run import TaskPreview
    from localbatch.runtime.base import Runtime
    from localbatch.spec.model import Job
    from localbatch.store.recorder import EventRecorder

#: Seconds between two tries to record the end of a job while its store cannot be written.
RECORD_RETRY_SECONDS = 1.0


def _print_dry_run(console: Console, previews: list[TaskPreview], runtime: Runtime) -> None:
    from localbatch.plan.node_choice import describe_image
    from localbatch.runtime.base import uses_images

    images_used = uses_images(runtime)
    for item in previews:
        env = item.environment
        sizing = env.sizing
        console.print(
            f"task {item.name}: {item.instance_count} instance(s)", markup=False, style="bold"
        )
        image = (
            describe_image(env.image, env.image_id, env.image_source)
            if images_used
            else f"not used by the {runtime.name} runtime"
        )
        lines = [
            f"image: {image}",
            f"instance type: {env.instance_type} -> {sizing.granted.describe()}",
            f"timeout: {env.timeout}s, retries: {item.max_retry_count}",
            f"at once: {item.concurrency.describe()}",
            f"command: {list(env.argv) if env.argv else env.argv_error}",
            "paths:",
            *(f"  {p}" for p in item.paths),
        ]
        lines += [f"note: {n}" for n in env.notices]
        lines += [f"cannot run: {sizing.refusal}"] if sizing.refusal else []
        for line in lines:
            console.print(f"  {line}", markup=False, highlight=False)
        for instance_id, instance_env in enumerate(item.instance_envs):
            console.print(f"  instance {instance_id} env:", markup=False, soft_wrap=True)
            for key, value in sorted(instance_env.items()):
                console.print(f"    {key}={value}", markup=False, highlight=False)


@click.command("run", short_help="Validate a job file, then run the job on this machine.")
@click.argument("file")
@click.option(
    "--runtime",
    "runtime_choice",
    type=click.Choice(choices()),
    help=f"Where instances run: {describe_choices()}. {RUNTIME_DEFAULT_HELP}",
)
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    help="At most N instances at once (cores and memory also limit).",
)
@click.option(
    "--oversubscribe/--no-oversubscribe",
    default=None,
    help="Start instances side by side whatever their sizes add up to, each inside its own "
    "limits, up to --max-parallel (default: twice the cores, at least 4). "
    "Config: [capacity] oversubscribe.",
)
@click.option(
    "--only",
    multiple=True,
    metavar="TASK",
    help="Run just this task (repeatable); upstream outputs are taken as they are in OSS.",
)
@click.option(
    "--dry-run", is_flag=True, help="Print what would run (image, limits, paths, env) and stop."
)
@click.option(
    "--pull", is_flag=True, help="Pull missing images (Docker runtime); never done otherwise."
)
@click.option(
    "--no-preflight",
    is_flag=True,
    help="Skip the checks before the run (missing package, input, image, program): each "
    "attempt then fails with its error code, as on the service.",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not show the programs' output.")
@click.option(
    "--no-oss-endpoint", is_flag=True, help="Do not start the local OSS endpoint for the instances."
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Progress on stderr; the final summary (or the validation report) as JSON on stdout.",
)
@config_options
def run_command(
    file: str,
    runtime_choice: str | None,
    max_parallel: int | None,
    oversubscribe: bool | None,
    only: tuple[str, ...],
    dry_run: bool,
    pull: bool,
    no_preflight: bool,
    quiet: bool,
    no_oss_endpoint: bool,
    as_json: bool,
    config: Config,
) -> None:
    """Validate FILE (or - for stdin), check it, then run the job on this machine."""
    if as_json and dry_run:
        fail("--json does not apply to --dry-run (its output is for reading)")
    body = valid_body_or_exit(file, config.quotas, as_json=as_json)
    if not dry_run:  # before a runtime is chosen: one line, nothing started
        open_store(config).close()
        check_oss_root(config)

    from localbatch.spec.model import parse_job

    job = parse_job(body)
    unknown = sorted(set(only) - set(job.tasks))
    if unknown:
        fail(
            f"--only names no task of the job: {', '.join(unknown)} (tasks: {', '.join(job.tasks)})"
        )
    if oversubscribe is not None:
        config = config.with_overrides(oversubscribe=oversubscribe)
    runtime = choose_runtime(config, runtime_choice, pull=pull)
    from localbatch.application.runtime_choice import storage_config
    from localbatch.config import ConfigError

    try:
        config = storage_config(config, runtime)
    except ConfigError as exc:
        fail(str(exc))
    if dry_run:
        _dry_run(job, config, runtime, only, max_parallel, preflight=not no_preflight)
    if not no_preflight:
        checked_or_exit(job, config, runtime, only)
    from localbatch.storage.instance import package_copy_notice

    click.echo(package_copy_notice(config), err=True)
    local = open_local(
        config,
        runtime,
        endpoint_hint="; --no-oss-endpoint skips it",
        oss_port=None,
        instance_oss=not no_oss_endpoint,
        max_parallel=max_parallel,
    )
    try:
        status = _run(local, job, only, quiet, as_json)
        if local.recorder is not None:  # may wait for space to come back: Ctrl-C gives up
            from rich.console import Console

            _record_the_end(local.recorder, Console(stderr=True, highlight=False))
    finally:
        close_uninterrupted(local.close)
    raise SystemExit(status)


def _dry_run(
    job: Job,
    config: Config,
    runtime: Runtime,
    only: tuple[str, ...],
    max_parallel: int | None,
    *,
    preflight: bool,
) -> None:
    """Print what would run, then the problems the checks find; exit 2 when there are."""
    from rich.console import Console

    from localbatch.application.preflight import preflight as check
    from localbatch.application.preview import preview_run, runtime_capacity
    from localbatch.ids import new_job_id

    capacity = runtime_capacity(runtime, config, max_parallel)
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"capacity: {capacity.describe()}", markup=False)
    previews = preview_run(new_job_id(), job, config, capacity, only)
    _print_dry_run(console, previews, runtime)
    problems = check(job, config, runtime, only) if preflight else []
    if problems:
        print_problems(problems, "the run would start nothing")
        raise SystemExit(EXIT_USAGE)
    raise SystemExit(EXIT_OK)


def _run(local: LocalService, job: Job, only: tuple[str, ...], quiet: bool, as_json: bool) -> int:
    """Record the job and run it here to its end, its progress and its programs' output
    shown (the summary also as JSON on stdout with `as_json`); the exit status."""
    from rich.console import Console

    from localbatch.application.failure_context import (
        failure_contexts,
        failure_contexts_of_snapshot,
    )
    from localbatch.cli.run_progress import print_summary, summary_json
    from localbatch.runtime.base import JobRefused
    from localbatch.storage.layout import job_dir, logs_dir

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    # With --json, stdout holds the summary alone: progress and the table go to stderr.
    out = err if as_json else Console(highlight=False, soft_wrap=True)
    job_id = local.service.record(job)
    err.print(f"job {job_id}: {job.name}", markup=False, soft_wrap=True)
    try:
        state, interrupted = _watch(local, job_id, job, only, quiet, out)
    except JobRefused as refused:
        local.service.discard(job_id)  # nothing of it ran
        fail(f"job {job_id} not run (and not kept): {refused.message}")
    status = _exit_status(state, interrupted)
    snapshot = local.service.snapshot(job_id)
    logs = logs_dir(job_dir(local.config.state_dir, job_id))
    not_run = _not_run(job, only)
    if snapshot is not None:
        state_dir = local.config.state_dir
        stored = local.store.get_job(job_id) is not None
        failures = (
            failure_contexts(local.store, state_dir, job_id)
            if stored
            else failure_contexts_of_snapshot(snapshot, state_dir)
        )
        command = _logs_command(local.config, job_id) if stored else None
        print_summary(out, snapshot, logs, failures, not_run, command)
    _print_report_path(out, local, job_id)
    if snapshot is not None and as_json:
        print_json(summary_json(snapshot, logs, not_run, status))
    if job.auto_release and state == State.FINISHED and local.store.get_job(job_id) is None:
        err.print(f"AutoRelease: job {job_id} deleted from the job store", soft_wrap=True)
    return status


def _exit_status(state: State | None, interrupted: bool) -> int:
    if interrupted or state == State.STOPPED:
        return EXIT_INTERRUPTED
    return EXIT_OK if state == State.FINISHED else EXIT_JOB_FAILED


def _logs_command(config: Config, job_id: str) -> Callable[[str, int], str]:
    """How `localbatch logs` shows an instance of the job (with --state-dir when the job's
    is not the one the command finds by itself)."""
    from localbatch.config import ConfigError, load_config

    try:
        found: Path | None = load_config(config.source).state_dir
    except ConfigError:  # any doubt: name the state directory
        found = None
    where = ""
    if found is None or found.absolute() != config.state_dir.absolute():
        where = f" --state-dir {shlex.quote(str(config.state_dir.absolute()))}"

    def command(task: str, instance: int) -> str:
        return f"localbatch logs {job_id} {shlex.quote(task)} {instance}{where}"

    return command


def _record_the_end(recorder: EventRecorder, err: Console) -> None:
    """The job's last events wait for a store that cannot be written (full disk): wait for
    space to come back, saying so once; Ctrl-C leaves them to the next start's recovery."""
    if recorder.flush():
        return
    err.print(
        f"the job store cannot record the end of the job ({recorder.failure}); "
        "waiting for it to be writable again (Ctrl-C: the next start recovers the job)",
        markup=False,
        soft_wrap=True,
    )
    try:
        while not recorder.flush():
            time.sleep(RECORD_RETRY_SECONDS)
    except KeyboardInterrupt:
        pass
    recorder.close()


def _watch(
    local: LocalService,
    job_id: str,
    job: Job,
    only: tuple[str, ...],
    quiet: bool,
    out: Console,
) -> tuple[State | None, bool]:
    """Submit the job and show its progress (and its programs' output) until it ends;
    (final state, interrupted)."""
    from localbatch.application.foreground import tell_preparation, wait_for_end
    from localbatch.cli.run_output import PlainScreen, follow_output
    from localbatch.cli.run_progress import LiveProgress, PlainProgress

    not_run = _not_run(job, only)
    display: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    screen: PlainScreen | TerminalScreen
    if out.is_terminal and not out.stderr:  # the live table draws while it is entered
        live = LiveProgress(
            out,
            {n: t.instance_count for n, t in job.tasks.items()},
            not_run,
            _concurrency(local, job, only),
            capacity=local.capacity(),
        )
        screen, display = live.screen, live
        listener: LiveProgress | PlainProgress = live
    else:
        # With --json, stdout holds the summary alone: progress and output go to stderr.
        screen = PlainScreen(sys.stderr.buffer if out.stderr else sys.stdout.buffer)
        listener = PlainProgress(screen, not_run)
    tell_preparation(local, listener.preparation)
    counts = {name: task.instance_count for name, task in job.tasks.items()}
    follower = None if quiet else follow_output(local.bus, counts, screen, out)
    local.bus.subscribe(listener)  # after the follower: an attempt's lines come first
    with terminate_as_interrupt(), display:
        try:
            try:
                local.service.submit(job_id, only=only or None)
                snapshot = local.service.snapshot(job_id)
                for notice in snapshot.notices if snapshot else ():
                    screen.write(f"notice: {notice}\n")
                return wait_for_end(local, job_id), False
            except KeyboardInterrupt:
                return stop_on_interrupt(local, job_id, _say(screen)), True
        finally:
            if follower is not None:
                follower.close()


def _say(screen: PlainScreen | TerminalScreen) -> Callable[[str], None]:
    """A line of localbatch's own on the screen, among the progress and the output."""

    def say(line: str) -> None:
        screen.write(line + "\n")

    return say


def _concurrency(local: LocalService, job: Job, only: tuple[str, ...]) -> dict[str, str]:
    """Per task: how many of its instances run at once here, and why."""
    from localbatch.application.preview import running_concurrency

    return {name: c.describe() for name, c in running_concurrency(local, job, only).items()}


def _print_report_path(out: Console, local: LocalService, job_id: str) -> None:
    """Where the report the stack wrote as the job ended is (said when it could not be)."""
    from localbatch.report.writer import report_path

    path = report_path(local.config.state_dir, job_id)
    if path.exists():
        out.print(f"report: {path}", markup=False, soft_wrap=True)
    else:
        out.print("report: not written (see the log above)", markup=False)


def _not_run(job: Job, only: tuple[str, ...]) -> frozenset[str]:
    """The tasks --only leaves out (none without --only)."""
    return frozenset(name for name in job.tasks if only and name not in only)


def register(group: click.Group) -> None:
    group.add_command(run_command)


__all__ = ["EXIT_USAGE", "PREFLIGHT_HINT", "register", "run_command"]
