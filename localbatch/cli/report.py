"""`localbatch report JOB`: a job's run report, as one HTML file, JSON or text.

HTML goes to `<state-dir>/jobs/<job-id>/report.html` unless `-o` says where (`-o -`:
stdout), and its path is printed; JSON and text go to stdout unless `-o` names a file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from localbatch.cli.common import (
    Config,
    api_error_exit,
    config_options,
    fail,
    open_store,
    resolved_job_id,
)
from localbatch.cli.job_completion import complete_job_id
from localbatch.spec.errors import ApiError

FORMATS = ("html", "json", "text")


@click.command("report", short_help="Write a job's run report (DAG, timeline, resources).")
@click.argument("job", metavar="JOB", shell_complete=complete_job_id)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="html",
    show_default=True,
    help="html: one self-contained page; json: the same data for scripts; text: a summary.",
)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write here (- for stdout). Default: html to <state-dir>/jobs/<job-id>/report.html, "
    "json and text to stdout.",
)
@config_options
def report_command(job: str, output_format: str, output: str | None, config: Config) -> None:
    """Write the run report of JOB (an id, a unique prefix of one, or `last`): its DAG, a
    timeline of every attempt, and what each attempt used (peak memory, CPU seconds, OOM,
    CPU throttling) against its instance type."""
    from localbatch.report.html import render_html
    from localbatch.report.json_view import report_json
    from localbatch.report.model import build_report
    from localbatch.report.text import render_text
    from localbatch.report.writer import report_path, write_whole

    store = open_store(config)
    try:
        job_id = resolved_job_id(store, job)
        report = build_report(config, store, job_id)
    except ApiError as error:
        api_error_exit(error)
    finally:
        store.close()
    if output_format == "html":
        text = render_html(report)
    elif output_format == "json":
        text = json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"
    else:
        text = render_text(report)
    if output == "-" or (output is None and output_format != "html"):
        sys.stdout.write(text)
        return
    path = Path(output) if output else report_path(config.state_dir, job_id)
    try:
        if output is None:
            path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, text)
    except OSError as exc:
        fail(f"cannot write the report to {path}: {exc.strerror or exc}")
    click.echo(str(path))


def register(group: click.Group) -> None:
    group.add_command(report_command)
