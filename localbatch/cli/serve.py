"""`localbatch serve`: answer the BatchCompute HTTP API on this machine and run its jobs.

Binds 127.0.0.1:8080 unless told otherwise, with the local OSS endpoint on port 8081 (what
`bcs sub -p` uploads through). Says at start whether requests must be signed. Runs until
SIGINT or SIGTERM; jobs it was running are stopped then, and recorded as Stopped.
"""

from __future__ import annotations

import click

from localbatch.cli.common import (
    EXIT_USAGE,
    RUNTIME_DEFAULT_HELP,
    Config,
    check_oss_root,
    choose_runtime,
    config_options,
    fail,
    open_store,
)
from localbatch.cli.stop_signal import wait_for_stop_signal
from localbatch.runtime.registry import choices, describe_choices

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _auth_notice(config: Config) -> str:
    if config.api_access_key_id:
        key = config.api_access_key_id
        return f"authentication: on (requests must be signed with AccessKeyId {key})"
    return (
        "authentication: OFF: every request is accepted "
        "(set LOCALBATCH_ACCESS_KEY_ID/LOCALBATCH_ACCESS_KEY_SECRET or [api] in the config)"
    )


@click.command("serve", short_help="Answer the BatchCompute API here and run the jobs it gets.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="API port."
)
@click.option(
    "--oss-port",
    type=click.IntRange(0, 65535),
    default=8081,
    show_default=True,
    help="Port of the local OSS endpoint (same host as the API).",
)
@click.option("--no-oss-endpoint", is_flag=True, help="Start no local OSS endpoint.")
@click.option(
    "--runtime",
    "runtime_choice",
    type=click.Choice(choices(for_tests=True)),
    help=f"Where instances run: {describe_choices(for_tests=True)}. {RUNTIME_DEFAULT_HELP}",
)
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    help="At most N instances at once over all jobs (cores and memory also limit).",
)
@click.option(
    "--no-request-log",
    is_flag=True,
    help="Do not log one line per API request (job state changes are still logged).",
)
@click.option(
    "--reports-from-anywhere",
    is_flag=True,
    help="Serve the run reports (/localbatch/reports/JOB_ID, unsigned) to every client, "
    "not only to this machine's.",
)
@config_options
def serve_command(
    host: str,
    port: int,
    oss_port: int,
    no_oss_endpoint: bool,
    runtime_choice: str | None,
    max_parallel: int | None,
    no_request_log: bool,
    reports_from_anywhere: bool,
    config: Config,
) -> None:
    """Answer the BatchCompute API (official SDK and `bcs` CLI) and run the jobs it gets.

    Logs on stderr one line per API request, one per job state change, and one as an image
    prepared on first use begins and ends.
    """
    from localbatch.application.stack import InstanceEndpointUnavailable
    from localbatch.cli.server_logs import (
        log_image_preparation,
        log_job_state,
        quiet_bad_requests,
        show_activity,
    )
    from localbatch.runtime.image_supply import TellsPreparation
    from localbatch.server.stack import ServerRunning, start_stack
    from localbatch.storage.instance import package_copy_notice

    quiet_bad_requests()
    show_activity(requests=not no_request_log)
    # An unusable state directory is one clear line here, not a traceback (or a misleading
    # "cannot listen") from inside the stack.
    open_store(config).close()
    check_oss_root(config)  # jobs write their logs and outputs there, endpoint or not
    runtime = choose_runtime(config, runtime_choice)
    if isinstance(runtime, TellsPreparation):  # before recovery may resume a job
        runtime.tell_preparation(log_image_preparation)
    click.echo(package_copy_notice(config), err=True)
    try:
        stack = start_stack(
            config,
            runtime,
            host=host,
            port=port,
            oss_port=None if no_oss_endpoint else oss_port,
            max_parallel=max_parallel,
            reports_from_anywhere=reports_from_anywhere,
        )
    except ServerRunning as exc:
        fail(str(exc), EXIT_USAGE)
    except InstanceEndpointUnavailable as exc:
        fail(
            f"cannot start the OSS endpoint for the instances ({exc}); --no-oss-endpoint skips it",
            EXIT_USAGE,
        )
    except OSError as exc:
        fail(f"cannot listen on {host}: {exc.strerror or exc}", EXIT_USAGE)
    stack.local.bus.subscribe(log_job_state)
    click.echo(f"BatchCompute API: {stack.url} (state dir {config.state_dir})", err=True)
    if stack.oss_address:
        click.echo(f"OSS endpoint: http://{stack.oss_address} (root {config.oss.root})", err=True)
    click.echo(_auth_notice(config), err=True)
    who = "every client (unsigned)" if reports_from_anywhere else "this machine only"
    click.echo(f"run reports: {stack.url}/localbatch/reports/<job-id> ({who})", err=True)
    if host not in LOOPBACK:
        click.echo(f"warning: listening on {host}: reachable from other machines", err=True)
    click.echo("ready (Ctrl-C to stop)", err=True)
    try:
        wait_for_stop_signal()
    finally:
        click.echo("stopping: jobs still running are stopped", err=True)
        stack.close()


def register(group: click.Group) -> None:
    group.add_command(serve_command)
