"""`localbatch validate`, `plan` and `schema`: the offline answers about a job file."""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from localbatch.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    RUNTIME_DEFAULT_HELP,
    Config,
    config_options,
    fail,
    runtime_name,
)
from localbatch.runtime.registry import AUTO, choices
from localbatch.spec.errors import ApiError
from localbatch.spec.load import JobFileError, read_body
from localbatch.spec.validate import ValidationReport, validate

if TYPE_CHECKING:
    from localbatch.plan import TaskPlan
    from localbatch.runtime.base import Runtime


def read_job_source(source: str) -> dict[str, Any]:
    """The job body of FILE or `-`, as every command reads it: an unreadable file exits with
    the usage status; a body that is not a JSON object raises its ApiError, after saying on
    stderr where the JSON breaks."""
    if source == "-" and sys.stdin.isatty():
        # Otherwise a command waiting on a terminal looks hung.
        click.echo("reading the job from stdin; end with Ctrl-D", err=True)
    try:
        return read_body(source)
    except JobFileError as exc:
        fail(str(exc))
    except ApiError as error:
        explain_unreadable_json(source, error)
        raise


def _check(
    source: str, quotas: Mapping[str, int], strict: bool = False
) -> tuple[dict[str, Any], ValidationReport]:
    """The body and its report; an unreadable file exits with the usage status."""
    try:
        body = read_job_source(source)
    except ApiError as error:
        return {}, ValidationReport(errors=[error])
    return body, validate(body, quotas, strict=strict)


def explain_unreadable_json(source: str, error: ApiError) -> None:
    """Say where the JSON breaks: the service's InvalidJsonFormat alone names no position."""
    if error.code == "InvalidJsonFormat" and error.hint:
        click.echo(f"{source}: {error.hint}", err=True)


def _print_warnings(report: ValidationReport) -> None:
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)


#: How a hint is set under the error it explains.
HINT_PREFIX = "  hint: "


def _print_report(report: ValidationReport) -> None:
    """Warnings to stderr, then the errors (the report itself) to stdout: the service's
    words on one line, localbatch's hint (if any) on the next."""
    _print_warnings(report)
    for error in report.errors:
        where = f" (at {error.path})" if error.path else ""
        click.echo(f"{error.http_status} {error.code}: {error.message}{where}")
        if error.hint and error.code != "InvalidJsonFormat":  # said on stderr already
            click.echo(f"{HINT_PREFIX}{error.hint}")


def valid_body_or_exit(
    source: str, quotas: Mapping[str, int], *, as_json: bool = False
) -> dict[str, Any]:
    """For commands that need a valid job: its body, or its errors printed and exit 1
    (as `validate --json` prints them, with `as_json`)."""
    body, report = _check(source, quotas)
    if not report.valid:
        if as_json:
            _echo_json(report.to_dict())
        else:
            _print_report(report)
        raise SystemExit(EXIT_INVALID)
    _print_warnings(report)
    return body


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.command("validate", short_help="Check a job file as CreateJob would; list every error.")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--strict",
    is_flag=True,
    help="Unknown fields are errors (UnknownField), not warnings: catches misspelt keys.",
)
@config_options
def validate_command(file: str, as_json: bool, strict: bool, config: Config) -> None:
    """Check FILE (or - for stdin) as the CreateJob API would; list every error.

    Each error is the service's status, code and message, then a `hint:` line with what the
    message leaves out (the value, the allowed range, the name probably meant).

    Exit status: 0 valid, 1 invalid, 2 unusable invocation or unreadable file.
    """
    body, report = _check(file, config.quotas, strict)
    if as_json:
        _echo_json(report.to_dict())
    else:
        _print_report(report)
        if report.valid:
            tasks = body["DAG"]["Tasks"]
            click.echo(f"{file}: valid job {body['Name']} ({_plural(len(tasks), 'task')})")
    raise SystemExit(EXIT_OK if report.valid else EXIT_INVALID)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@click.command(
    "plan", short_help="Show a job's tasks in order, what runs at once here, and problems."
)
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--runtime",
    "runtime_choice",
    type=click.Choice(choices()),
    help="The runtime whose capacity (a swarm's nodes) plan shows and whose images and "
    f"programs the checks look at, as `run` would choose it. {RUNTIME_DEFAULT_HELP}",
)
@click.option("--pull", is_flag=True, help="Images would be pulled: a missing one is no problem.")
@click.option("--max-parallel", type=click.IntRange(min=1), help="As `run --max-parallel`.")
@click.option("--oversubscribe/--no-oversubscribe", default=None, help="As `run --oversubscribe`.")
@click.option(
    "--no-preflight", is_flag=True, help="Skip the checks `run` makes before anything starts."
)
@config_options
def plan_command(
    file: str,
    as_json: bool,
    runtime_choice: str | None,
    pull: bool,
    max_parallel: int | None,
    oversubscribe: bool | None,
    no_preflight: bool,
    config: Config,
) -> None:
    """Show FILE's tasks in execution order, how many instances of each run at once (on
    this host, or a swarm's nodes), and the problems `run` would stop at; without running
    anything.

    Exit status: 0, 1 invalid job, 2 problems found (as `run` finds them before a run).
    """
    from localbatch.application.preflight import preflight
    from localbatch.application.preview import refusals, runtime_capacity, task_concurrency
    from localbatch.plan import plan_tasks
    from localbatch.spec.model import parse_job

    body = valid_body_or_exit(file, config.quotas)
    if oversubscribe is not None:
        config = config.with_overrides(oversubscribe=oversubscribe)
    job = parse_job(body)
    plans = plan_tasks(job, config)
    # Without the checks, no runtime is asked unless one was named (a swarm's capacity).
    name = runtime_name(runtime_choice, config)
    asked = not no_preflight or name != AUTO
    runtime = _runtime(config, name, pull, no_preflight) if asked else None
    capacity = runtime_capacity(runtime, config, max_parallel)
    refused = refusals(job, config, capacity)
    at_once = task_concurrency(job, config, capacity)
    problems = [] if no_preflight else preflight(job, config, runtime)
    if as_json:
        _echo_json(
            [
                {
                    **dataclasses.asdict(plan),
                    "at_once": at_once[plan.name].at_once,
                    "at_once_reason": at_once[plan.name].reason,
                    "cannot_run": refused.get(plan.name, ""),
                    "problems": [
                        {"field": p.field, "message": p.message}
                        for p in problems
                        if p.task == plan.name
                    ],
                }
                for plan in plans
            ]
        )
        raise SystemExit(EXIT_USAGE if problems or refused else EXIT_OK)
    total = sum(plan.instance_count for plan in plans)
    counts = f"{_plural(len(plans), 'task')}, {_plural(total, 'instance')}"
    click.echo(f"job {body['Name']}: {counts}")
    click.echo(f"capacity: {capacity.describe()}")
    for level, members in itertools.groupby(plans, key=lambda plan: plan.level):
        click.echo(f"level {level}")
        for plan in members:
            lines = [*_plan_lines(plan), f"at once: {at_once[plan.name].describe()}"]
            lines += [f"cannot run: {refused[plan.name]}"] if plan.name in refused else []
            for index, line in enumerate(lines):
                click.echo(f"{'    ' if index else '  '}{line}")
    if problems:
        from localbatch.cli.preflight_report import print_problems

        print_problems(problems, "`run` would start nothing")
    if problems or refused:
        raise SystemExit(EXIT_USAGE)


def _runtime(config: Config, runtime_choice: str, pull: bool, quiet: bool) -> Runtime | None:
    """The runtime `run` would choose; None (said unless `quiet`) when there is none: then
    only the checks that need no runtime are made, and the capacity is this host's."""
    from localbatch.application.runtime_choice import allow_pulls, select_sparing_runtime
    from localbatch.runtime.base import RuntimeUnavailable

    try:
        runtime, notice = select_sparing_runtime(runtime_choice, config)
        if pull:
            allow_pulls(runtime)
    except (RuntimeUnavailable, ValueError) as exc:
        if not quiet:
            click.echo(f"note: {exc}; images and programs are not checked", err=True)
        return None
    click.echo(notice, err=True)
    return runtime


def _plan_lines(plan: TaskPlan) -> list[str]:
    """One short line per fact, so that a task's plan reads without wrapping."""
    from localbatch.plan.node_choice import describe_image

    size = f"{plan.cpu_cores} cores, {plan.memory_gib} GiB" if plan.cpu_cores else "size unknown"
    after = f", after {', '.join(plan.upstream)}" if plan.upstream else ""
    return [
        f"{plan.name}: {_plural(plan.instance_count, 'instance')} of "
        f"{plan.instance_type or 'unknown type'} ({size}) on {plan.cluster}{after}",
        f"image {describe_image(plan.docker_image, plan.image, plan.image_source)}",
        f"timeout {plan.timeout}s, MaxRetryCount {plan.max_retry_count}",
        *(f"note: {notice}" for notice in plan.notices),
    ]


@click.command("schema", short_help="Print the JSON Schema of a job body, for editors.")
@click.option(
    "--strict",
    is_flag=True,
    help="No member beyond the documented ones (additionalProperties false), as validate --strict.",
)
def schema_command(strict: bool) -> None:
    """Print the JSON Schema (draft 2020-12) of a job body, for editors."""
    from localbatch.spec.schema import job_schema

    _echo_json(job_schema(strict))


def register(group: click.Group) -> None:
    for command in (validate_command, plan_command, schema_command):
        group.add_command(command)
