"""Job commands on the store: jobs, status, logs, stop, start, delete, priority, submit.

They read the SQLite store directly, so they work whether or not a server runs. Changes go
through the running `localbatch serve` of the state directory when there is one (it owns
its jobs); otherwise they are applied here with the same rules, and `start` runs the job in
the foreground. Errors are the service's codes and messages: exit 2 for an unknown job,
task or instance (InvalidResource.NotFound), 1 for the others (a state the change does not
apply to). A job id may be `last` or a unique prefix (store/job_ids.py).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import click

from localbatch.cli.common import (
    EXIT_JOB_FAILED,
    EXIT_USAGE,
    RUNTIME_DEFAULT_HELP,
    Config,
    config_options,
    fail,
    open_local,
    open_store,
)
from localbatch.cli.common import api_error_exit as _api_error
from localbatch.cli.common import resolved_job_id as _resolved
from localbatch.cli.job_completion import complete_job_id
from localbatch.cli.job_logs import AttemptChoice, LogPrinter, print_logs
from localbatch.cli.job_views import (
    attempt_json,
    console,
    print_instance,
    print_job,
    print_jobs,
    print_json,
    print_task,
)
from localbatch.runtime.registry import choices
from localbatch.server import shapes
from localbatch.server.client import ApiClient
from localbatch.server.discovery import read_server_info
from localbatch.spec.errors import ApiError, not_found
from localbatch.states import State
from localbatch.store import Store
from localbatch.store.records import AttemptRecord, InstanceRecord, JobRecord, TaskRecord

if TYPE_CHECKING:
    from localbatch.application.job_service import JobService

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (the API's shapes).")
job_id_argument = click.argument("job_id", metavar="JOB", shell_complete=complete_job_id)


@contextlib.contextmanager
def _store(config: Config) -> Iterator[Store]:
    store = open_store(config)
    try:
        yield store
    finally:
        store.close()


def _job_id(config: Config, typed: str) -> str:
    with _store(config) as store:
        return _resolved(store, typed)


def _server_client(config: Config) -> ApiClient | None:
    info = read_server_info(config.state_dir)
    if info is None:
        return None
    return ApiClient(
        info.url, config.api_access_key_id, config.api_access_key_secret, config.region
    )


def _send(client: ApiClient, method: str, target: str, body: Any = None) -> Any:
    """The server's answer; its error or its silence ends the command with one line."""
    try:
        return client.request(method, target, body)
    except ApiError as error:
        if error.http_status == 503:  # its store is full or read-only: not the request's fault
            fail(f"the server at {client.url} cannot record it: {error.code}: {error.message}")
        _api_error(error)
    except OSError as exc:
        fail(f"the server at {client.url} did not answer: {exc}")


def _through_server(config: Config, method: str, target: str, body: Any = None) -> bool:
    """Send the change to the running server; False when none runs for this state dir."""
    client = _server_client(config)
    if client is None:
        return False
    _send(client, method, target, body)
    return True


def _locally(config: Config, operation: Callable[[JobService], None]) -> None:
    """Apply a change with this process's own job service (no engine)."""
    local = open_local(config, None)
    try:
        operation(local.service)
    except ApiError as error:
        _api_error(error)
    finally:
        local.close()


# -- reading ----------------------------------------------------------------------------


@click.command("jobs")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in State], case_sensitive=False),
    help="Only jobs in this state (repeatable).",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@json_option
@config_options
def jobs_command(states: tuple[str, ...], limit: int, as_json: bool, config: Config) -> None:
    """List recorded jobs, newest first."""
    wanted = [State(s.capitalize()) for s in states]
    with _store(config) as store:
        page = store.list_jobs(states=wanted, max_items=limit)
    if as_json:
        print_json(shapes.page(page, shapes.job))
    elif not page.items:
        which = " or ".join(s.lower() for s in states)
        click.echo(f"no {which + ' ' if which else ''}jobs in {config.state_dir}", err=True)
    else:
        print_jobs(console(), page.items)


@click.command("status", short_help="Show a job, one of its tasks, or one instance.")
@job_id_argument
@click.argument("task", required=False)
@click.argument("instance", required=False, type=int)
@json_option
@config_options
def status_command(
    job_id: str, task: str | None, instance: int | None, as_json: bool, config: Config
) -> None:
    """Show a job and its tasks, a task and its instances, or an instance and its attempts.

    JOB is a job id, any unique part of its start (with or without job-), or `last`.
    """
    with _store(config) as store:
        job_id = _resolved(store, job_id)
        record = store.get_job(job_id)
        if record is None:
            _api_error(not_found(job_id))
        if task is None:
            _show_job(store, record, as_json)
        elif instance is None:
            _show_task(store, job_id, task, as_json)
        else:
            _show_instance(store, job_id, task, instance, as_json)


def _show_job(store: Store, record: JobRecord, as_json: bool) -> None:
    tasks = store.list_tasks(record.id, max_items=None).items
    if as_json:
        print_json({**shapes.job(record), "Tasks": [shapes.task(t) for t in tasks]})
    else:
        print_job(console(), record, tasks)


def _show_task(store: Store, job_id: str, task: str, as_json: bool) -> None:
    record = store.get_task(job_id, task)
    if record is None:
        _api_error(not_found(f"{job_id}/{task}"))
    instances = store.list_instances(job_id, task, max_items=None).items
    if as_json:
        print_json(
            {**shapes.task(record), "Instances": [_instance_json(store, i) for i in instances]}
        )
    else:
        print_task(console(), record, instances)


def _show_instance(store: Store, job_id: str, task: str, instance: int, as_json: bool) -> None:
    record = store.get_instance(job_id, task, instance)
    if record is None:
        _api_error(not_found(f"{job_id}/{task}/{instance}"))
    attempts = store.attempts(job_id, task, instance)
    if as_json:
        print_json(
            {**_instance_json(store, record), "Attempts": [attempt_json(a) for a in attempts]}
        )
    else:
        print_instance(console(), record, attempts)


def _instance_json(store: Store, instance: InstanceRecord) -> dict[str, Any]:
    """The API's instance shape; its redirect paths are read from the stored job body."""
    body = store.job_body(instance.job_id) or {}
    task = body.get("DAG", {}).get("Tasks", {}).get(instance.task_name, {})
    params = task.get("Parameters", {}) if isinstance(task, dict) else {}
    return shapes.instance(
        instance,
        str(params.get("StdoutRedirectPath", "")),
        str(params.get("StderrRedirectPath", "")),
    )


@click.command("logs", short_help="Print instances' output, attempt by attempt.")
@job_id_argument
@click.argument("task", required=False)
@click.argument("instance", required=False, type=int)
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep printing until what is shown (job, task or instance) ends; exit 3 if it failed.",
)
@click.option("--stderr", "stderr", is_flag=True, help="Standard error instead of output.")
@click.option(
    "--attempt",
    type=click.IntRange(min=0),
    help="Only this attempt of each instance (of the latest run that has it).",
)
@click.option("--run", type=click.IntRange(min=0), help="With --attempt: the attempt of this run.")
@config_options
def logs_command(
    job_id: str,
    task: str | None,
    instance: int | None,
    follow: bool,
    stderr: bool,
    attempt: int | None,
    run: int | None,
    config: Config,
) -> None:
    """Print instances' output, each line prefixed with <task>.<instance>.

    Each attempt's output comes between a line naming it and a line saying how it ended.
    JOB is a job id, any unique part of its start (with or without job-), or `last`.
    """
    if run is not None and attempt is None:
        fail("--run goes with --attempt", EXIT_USAGE)
    with _store(config) as store:
        job_id = _resolved(store, job_id)
        if task is not None and store.get_task(job_id, task) is None:
            _api_error(not_found(f"{job_id}/{task}"))

        def instances() -> list[InstanceRecord]:
            found = store.list_instances(job_id, task, max_items=None).items
            return [i for i in found if instance is None or i.instance_id == instance]

        def attempts(record: InstanceRecord) -> list[AttemptRecord]:
            return store.attempts(job_id, record.task_name, record.instance_id)

        if instance is not None and not instances():
            _api_error(not_found(f"{job_id}/{task}/{instance}"))
        stream = "stderr" if stderr else "stdout"
        choice = AttemptChoice(attempt, run) if attempt is not None else None
        printer = LogPrinter(sys.stdout, escape=sys.stdout.isatty())
        with contextlib.suppress(KeyboardInterrupt):
            print_logs(
                printer,
                config.state_dir,
                instances,
                attempts,
                stream,
                choice=choice,
                follow=follow,
                ended=lambda: _followed_state(store, job_id, task, instance).terminal,
            )
            if follow and _followed_state(store, job_id, task, instance) == State.FAILED:
                raise SystemExit(EXIT_JOB_FAILED)
        if not printer.printed:
            named = _named(job_id, task, instance) + (f" attempt {attempt}" if choice else "")
            click.echo(f"no {stream} recorded (yet) for {named}", err=True)


def _followed_state(store: Store, job_id: str, task: str | None, instance: int | None) -> State:
    """The state of what `logs -f` follows: the instance, else the task, else the job (a
    job deleted meanwhile counts as Stopped)."""
    record: JobRecord | TaskRecord | InstanceRecord | None
    if task is not None and instance is not None:
        record = store.get_instance(job_id, task, instance)
    elif task is not None:
        record = store.get_task(job_id, task)
    else:
        record = store.get_job(job_id)
    return record.state if record is not None else State.STOPPED


def _named(job_id: str, task: str | None, instance: int | None) -> str:
    if task is None:
        return f"job {job_id}"
    return f"{job_id} task {task}" + (f" instance {instance}" if instance is not None else "")


# -- changing ---------------------------------------------------------------------------


def _print_job_json(config: Config, job_id: str) -> None:
    """--json after a change: the job as the store has it now (the API's shape)."""
    with _store(config) as store:
        record = store.get_job(job_id)
    print_json(shapes.job(record) if record else {"Id": job_id, "Deleted": True})


def _change(
    config: Config,
    job_id: str,
    request: tuple[str, str, Any],
    operation: Callable[[JobService], None],
    as_json: bool,
    done: str,
) -> None:
    """Send (method, target, body) to the running server, else apply `operation` here."""
    if not _through_server(config, *request):
        _locally(config, operation)
    click.echo(f"{job_id}: {done}", err=True)
    if as_json:
        _print_job_json(config, job_id)


@click.command("stop", short_help="Stop a Waiting or Running job (its instances end Stopped).")
@job_id_argument
@json_option
@config_options
def stop_command(job_id: str, as_json: bool, config: Config) -> None:
    """Stop a Waiting or Running job (running instances end Stopped).

    JOB is a job id, any unique part of its start (with or without job-), or `last`.
    """
    job_id = _job_id(config, job_id)
    request = ("POST", f"/jobs/{job_id}/stop", None)
    _change(config, job_id, request, lambda s: s.stop(job_id), as_json, "stop requested")


@click.command("delete", short_help="Delete a Finished, Failed or Stopped job from the store.")
@job_id_argument
@json_option
@config_options
def delete_command(job_id: str, as_json: bool, config: Config) -> None:
    """Delete a Finished, Failed or Stopped job from the job store.

    As DeleteJob does: the job's files (logs, events.jsonl) stay in the state
    directory's jobs/JOB_ID/; remove that directory to free the space. JOB is a job id,
    any unique part of its start (with or without job-), or `last`.
    """
    job_id = _job_id(config, job_id)
    request = ("DELETE", f"/jobs/{job_id}", None)
    _change(config, job_id, request, lambda s: s.delete(job_id), as_json, "deleted")


@click.command("priority")
@job_id_argument
@click.argument("priority", type=int)
@json_option
@config_options
def priority_command(job_id: str, priority: int, as_json: bool, config: Config) -> None:
    """Change the Priority (0..1000) of a Stopped job.

    JOB is a job id, any unique part of its start (with or without job-), or `last`.
    """
    job_id = _job_id(config, job_id)
    body = {"Priority": priority}
    request = ("PUT", f"/jobs/{job_id}", body)
    _change(
        config,
        job_id,
        request,
        lambda s: s.change_priority(job_id, body),
        as_json,
        f"priority {priority}",
    )


@click.command("start", short_help="Re-run the unfinished part of a Stopped or Failed job.")
@job_id_argument
@click.option(
    "--runtime",
    "runtime_choice",
    type=click.Choice(choices()),
    help=f"Where instances run when no server runs the job. {RUNTIME_DEFAULT_HELP}",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: the job (through a server) or, run here, the final summary.",
)
@click.option("-q", "--quiet", is_flag=True, help="Run here: do not show the programs' output.")
@config_options
def start_command(
    job_id: str, runtime_choice: str | None, as_json: bool, quiet: bool, config: Config
) -> None:
    """Re-run a Stopped or Failed job: only its instances that did not finish.

    With a server running, the server runs it (`localbatch logs JOB -f` follows its
    output). Otherwise it runs here, in the foreground, like `localbatch run`: the
    programs' output as they write it, Ctrl-C stops it. A job whose runner died is recovered. JOB is
    a job id, any unique part of its start (with or without job-), or `last`.
    """
    job_id = _job_id(config, job_id)
    if _through_server(config, "POST", f"/jobs/{job_id}/start"):
        click.echo(f"{job_id}: started on the server", err=True)
        if as_json:
            _print_job_json(config, job_id)
        return
    from localbatch.cli.job_start import start_here

    raise SystemExit(start_here(config, job_id, runtime_choice, as_json, quiet))


def _http_url(value: str | None) -> str | None:
    """An address the API client can use; anything else is a usage error, said up front."""
    if value is not None and urlsplit(value).scheme not in ("http", "https"):
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    if value is not None and not urlsplit(value).netloc:
        raise click.BadParameter(f"{value!r} names no host")
    return value


@click.command("submit", short_help="Hand a job file to a running `localbatch serve`.")
@click.argument("file")
@click.option("--token", default="", help="IdempotentToken: the same token and body, one job.")
@click.option(
    "--url",
    callback=lambda _ctx, _param, value: _http_url(value),
    help="Server URL, http://host:port (default: the server of the state directory).",
)
@json_option
@config_options
def submit_command(file: str, token: str, url: str | None, as_json: bool, config: Config) -> None:
    """Hand the job in FILE (or - for stdin) to a running `localbatch serve`.

    Prints the new job's id (with --json: CreateJob's answer, {"Id": ...}).
    """
    from localbatch.cli.validate import read_job_source

    client = (
        ApiClient(url, config.api_access_key_id, config.api_access_key_secret, config.region)
        if url
        else _server_client(config)
    )
    if client is None:
        fail(
            f"no `localbatch serve` runs for {config.state_dir}: start one, "
            "pass --url, or run the job here with `localbatch run`"
        )
    try:
        body = read_job_source(file)
    except ApiError as error:
        _api_error(error)
    target = f"/jobs?IdempotentToken={quote(token, safe='')}" if token else "/jobs"
    answer = _send(client, "POST", target, body)
    if as_json:
        print_json(answer)
    else:
        click.echo(answer["Id"])


COMMANDS = (
    jobs_command,
    status_command,
    logs_command,
    stop_command,
    start_command,
    delete_command,
    priority_command,
    submit_command,
)


def register(group: click.Group) -> None:
    for command in COMMANDS:
        group.add_command(command)
