"""`localbatch init [DIR]`: a small runnable job to start from, staged so it runs at once."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from localbatch.cli.common import Config, config_options, fail, given_options
from localbatch.spec.buckets import BUCKET_RULE, is_bucket_name
from localbatch.starter.scaffold import DEFAULT_BUCKET, StarterExists, StarterJob, job_name


def _bucket(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not is_bucket_name(value):
        raise click.BadParameter(f"{value!r} is not a valid OSS bucket name ({BUCKET_RULE})")
    return value


@click.command("init", short_help="Write a small runnable job into DIR, its files staged.")
@click.argument(
    "directory", default=".", type=click.Path(file_okay=False, path_type=Path), metavar="[DIR]"
)
@click.option(
    "--bucket",
    default=DEFAULT_BUCKET,
    show_default=True,
    callback=_bucket,
    help="Bucket the job's package, input and output live in.",
)
@config_options
def init_command(directory: Path, bucket: str, config: Config) -> None:
    """Write a small job into DIR (default: here) that runs as it is, and stage its files.

    DIR gets job.json (two tasks: split's OutputMapping is count's InputMapping; count runs
    2 instances, each on the part its BATCH_COMPUTE_DAG_INSTANCE_ID names), worker/ (the
    tasks' Python source) and input/ (sample text). The worker package and the input are
    uploaded to the OSS storage in use (--oss-root, the config, or the default), so
    `localbatch run DIR/job.json` works at once, on either runtime. Nothing is overwritten.
    """
    from localbatch.starter.scaffold import stage, write
    from localbatch.storage.errors import StorageError
    from localbatch.storage.resolver import OssResolver

    starter = StarterJob(directory, job_name(directory), bucket)
    try:
        written = write(starter)
    except StarterExists as exc:
        fail(str(exc))
    for path in written:
        click.echo(f"wrote {path}")
    try:
        staged = stage(starter, OssResolver(config.oss))
    except (StorageError, OSError) as exc:
        fail(f"the job's files are written, but staging them failed: {exc}")
    for url in staged:
        click.echo(f"staged {url}")
    _next_steps(starter)


def _next_steps(starter: StarterJob) -> None:
    options = given_options()
    command = f"localbatch {options} " if options else "localbatch "
    job = shlex.quote(str(starter.job_file))
    worker = shlex.quote(str(starter.directory / "worker"))
    click.echo("\nnext:")
    for step in (
        f"validate {job}",
        f"run {job}",
        f"oss ls {starter.results}",
        f"oss cat {starter.results}count-0.json",
    ):
        click.echo(f"  {command}{step}")
    click.echo("after changing the worker, pack and upload it again:")
    click.echo(
        f"  tar -czf worker.tar.gz -C {worker} . && {command}oss cp worker.tar.gz {starter.package}"
    )


def register(group: click.Group) -> None:
    group.add_command(init_command)
