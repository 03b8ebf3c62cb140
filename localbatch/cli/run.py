"""`localbatch run FILE`: validate a job, then run it here as the service would.

Exit status: 0 Finished, 1 invalid job, 2 unusable invocation (or no runtime), 3 Failed,
130 interrupted (the job ends Stopped; everything this run started is stopped and removed).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from localbatch.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Config,
    config_options,
    fail,
)
from localbatch.cli.job_views import print_json
from localbatch.cli.stop_signal import terminate_as_interrupt
from localbatch.cli.validate import valid_body_or_exit
from localbatch.runtime.select import CHOICES as RUNTIMES
from localbatch.states import State

if TYPE_CHECKING:
    from rich.console import Console

    from localbatch.engine.service import Engine
    from localbatch.events import EventBus
    from localbatch.ossendpoint.server import OssEndpoint
    from localbatch.runtime.base import Runtime
    from localbatch.spec.model import Job


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _allow_pull(runtime: Runtime) -> None:
    """--pull: only the docker runtime has images to pull."""
    if runtime.name != "docker":
        fail(f"--pull applies to the docker runtime only, not to {runtime.name}")
    from localbatch.runtime.docker import DockerRuntime

    if isinstance(runtime, DockerRuntime):
        runtime.pull = True


def _oss_host(config: Config, runtime_name: str, wanted: bool) -> tuple[str, OssEndpoint | None]:
    """The address instances reach OSS at, and the local endpoint started for it (if any)."""
    if config.oss.remote:
        return config.oss.endpoint.split("://", 1)[-1].rstrip("/"), None
    if not wanted:
        return "", None
    from localbatch.cli.server_logs import quiet_bad_requests
    from localbatch.ossendpoint.for_instances import instance_endpoint
    from localbatch.runtime.base import RuntimeUnavailable

    quiet_bad_requests()  # an instance sending garbage gets its 400, not a traceback here
    try:
        endpoint = instance_endpoint(
            runtime_name,
            config.oss.root,
            access_key_id=config.api_access_key_id,
        )
    except (RuntimeUnavailable, OSError) as exc:
        fail(f"cannot start the OSS endpoint for the instances ({exc}); --no-oss-endpoint skips it")
    return endpoint.url.split("://", 1)[-1], endpoint


def _print_dry_run(
    console: Console,
    job_id: str,
    job: Job,
    config: Config,
    runtime: Runtime,
    only: tuple[str, ...],
) -> None:
    from localbatch.engine.capacity import HostCapacity
    from localbatch.engine.dry_run import preview
    from localbatch.node_choice import describe_image
    from localbatch.runtime.base import uses_images

    host = HostCapacity.detect()
    tasks = {name: task for name, task in job.tasks.items() if not only or name in only}
    images_used = uses_images(runtime)
    for item in preview(job_id, tasks, config, host, "<oss endpoint>"):
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
            f"command: {list(env.argv) if env.argv else env.argv_error}",
            "paths:",
            *(f"  {p}" for p in item.paths),
        ]
        lines += [f"note: {n}" for n in env.notices]
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
    type=click.Choice(RUNTIMES),
    default="auto",
    show_default=True,
    help="Where instances run: Docker containers or the daemon-less sandbox.",
)
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    help="At most N instances at once (cores and memory also limit).",
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
    runtime_choice: str,
    max_parallel: int | None,
    only: tuple[str, ...],
    dry_run: bool,
    pull: bool,
    no_oss_endpoint: bool,
    as_json: bool,
    config: Config,
) -> None:
    """Validate FILE (or - for stdin), then run the job on this machine."""
    if as_json and dry_run:
        fail("--json does not apply to --dry-run (its output is for reading)")
    body = valid_body_or_exit(file, config.quotas, as_json=as_json)

    from localbatch.ids import new_job_id
    from localbatch.runtime.base import RuntimeUnavailable
    from localbatch.server.runtime_choice import select_sparing_runtime
    from localbatch.spec.model import parse_job

    job = parse_job(body)
    unknown = sorted(set(only) - set(job.tasks))
    if unknown:
        fail(
            f"--only names no task of the job: {', '.join(unknown)} (tasks: {', '.join(job.tasks)})"
        )
    try:
        runtime, notice = select_sparing_runtime(runtime_choice, config)
    except RuntimeUnavailable as exc:
        fail(str(exc))
    if pull:
        _allow_pull(runtime)
    click.echo(notice, err=True)
    job_id = new_job_id()
    if dry_run:
        from rich.console import Console

        _print_dry_run(Console(highlight=False, soft_wrap=True), job_id, job, config, runtime, only)
        raise SystemExit(EXIT_OK)
    from localbatch.storage.instance import package_copy_notice

    click.echo(package_copy_notice(config), err=True)
    options = RunOptions(max_parallel, only, not no_oss_endpoint, as_json)
    raise SystemExit(_run(job_id, job, config, runtime, options))


@dataclass(frozen=True)
class RunOptions:
    """How `run` runs the job and shows it."""

    max_parallel: int | None
    only: tuple[str, ...]
    endpoint_wanted: bool
    as_json: bool


def _run(job_id: str, job: Job, config: Config, runtime: Runtime, options: RunOptions) -> int:
    from rich.console import Console

    from localbatch.cli.run_progress import print_summary, summary_json
    from localbatch.engine.service import Engine
    from localbatch.events import EventBus
    from localbatch.notify import Notifier
    from localbatch.storage.layout import job_dir, logs_dir
    from localbatch.store import Store

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    # With --json, stdout holds the summary alone: progress and the table go to stderr.
    out = err if options.as_json else Console(highlight=False, soft_wrap=True)
    only = options.only
    bus = EventBus()
    oss_host, endpoint = _oss_host(config, runtime.name, options.endpoint_wanted)
    store = Store.open(config.state_dir)
    notifier = Notifier(config.state_dir, store, config.notification_endpoint)
    engine: Engine | None = None
    try:
        store.create_job(job_id, job, created=time.time())
        bus.subscribe(store.on_event)
        bus.subscribe(notifier)
        engine = Engine(config, runtime, bus, max_parallel=options.max_parallel, oss_host=oss_host)
        err.print(f"job {job_id}: {job.name}", markup=False, soft_wrap=True)
        state, interrupted = _watch(engine, bus, job_id, job, only, out, err)
        status = _exit_status(state, interrupted)
        if job_id in engine.job_ids():
            logs = logs_dir(job_dir(config.state_dir, job_id))
            snapshot, not_run = engine.snapshot(job_id), _not_run(job, only)
            print_summary(out, snapshot, logs, not_run)
            if options.as_json:
                print_json(summary_json(snapshot, logs, not_run, status))
        if job.auto_release and state == State.FINISHED:
            store.delete_job(job_id)
            err.print(f"AutoRelease: job {job_id} deleted from the job store", soft_wrap=True)
    finally:
        # Cleanup must finish: a further Ctrl-C would leave containers or sandboxes behind.
        with contextlib.suppress(KeyboardInterrupt), _signals_ignored():
            if engine is not None:
                engine.shutdown()
            if endpoint is not None:
                endpoint.stop()
            notifier.close()
            store.close()
    return status


def _exit_status(state: State | None, interrupted: bool) -> int:
    if interrupted or state == State.STOPPED:
        return EXIT_INTERRUPTED
    return EXIT_OK if state == State.FINISHED else EXIT_JOB_FAILED


def _watch(
    engine: Engine,
    bus: EventBus,
    job_id: str,
    job: Job,
    only: tuple[str, ...],
    out: Console,
    err: Console,
) -> tuple[State | None, bool]:
    """Submit the job and show its progress until it ends; (final state, interrupted)."""
    from localbatch.cli.run_progress import LiveProgress, PlainProgress

    not_run = _not_run(job, only)
    display: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if out.is_terminal and not out.stderr:  # the live table draws while it is entered
        live = LiveProgress(out, {n: t.instance_count for n, t in job.tasks.items()}, not_run)
        bus.subscribe(live)
        display = live
    else:
        bus.subscribe(PlainProgress(sys.stderr if out.stderr else sys.stdout, not_run))
    state: State | None = None
    with terminate_as_interrupt(), display:
        try:
            engine.submit(job_id, job, only=only or None)
            for notice in engine.snapshot(job_id).notices:
                err.print(f"notice: {notice}", markup=False, soft_wrap=True)
            while state is None:
                state = engine.wait(job_id, 0.5)
        except KeyboardInterrupt:
            err.print("interrupted: stopping the job", markup=False, soft_wrap=True)
            return _stop_and_wait(engine, job_id), True
    return state, False


def _not_run(job: Job, only: tuple[str, ...]) -> frozenset[str]:
    """The tasks --only leaves out (none without --only)."""
    return frozenset(name for name in job.tasks if only and name not in only)


def _stop_and_wait(engine: Engine, job_id: str) -> State | None:
    """Stop the job (if it got that far) and wait for its instances to be stopped."""
    from localbatch.engine.service import UnknownJob
    from localbatch.states import StateConflict

    try:
        engine.stop(job_id)
        return engine.wait(job_id, 60)
    except (UnknownJob, StateConflict):
        return None
    except KeyboardInterrupt:  # a second Ctrl-C: shutdown() below still stops everything
        return None


def register(group: click.Group) -> None:
    group.add_command(run_command)


__all__ = ["EXIT_USAGE", "register", "run_command"]
