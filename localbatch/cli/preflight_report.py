"""The problems the checks before a run find (`application.preflight`), as `run`, `run
--dry-run` and `plan` print them: all at once, each with its task and field."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import click

from localbatch.application.preflight import Problem, preflight
from localbatch.cli.common import EXIT_USAGE
from localbatch.cli.terminal_text import safe_text
from localbatch.config import Config
from localbatch.runtime.base import Runtime
from localbatch.spec.model import Job

PREFLIGHT_HINT = (
    "--no-preflight runs it anyway: each attempt then fails with its error code, as on the service"
)


def print_problems(problems: Sequence[Problem], outcome: str) -> None:
    """Every problem on stderr, under one line saying what that means for the run."""
    count = f"{len(problems)} problem" + ("" if len(problems) == 1 else "s")
    click.echo(f"localbatch: {count} found before the run; {outcome}:", err=True)
    for problem in problems:
        click.echo(f"  {safe_text(problem.describe())}", err=True)
    click.echo(f"  {PREFLIGHT_HINT}", err=True)


def checked_or_exit(job: Job, config: Config, runtime: Runtime, only: Collection[str]) -> None:
    """Run the checks; with problems, print them all and exit 2 (nothing started or
    recorded)."""
    problems = preflight(job, config, runtime, only)
    if problems:
        print_problems(problems, "nothing was started and no job was recorded")
        raise SystemExit(EXIT_USAGE)
