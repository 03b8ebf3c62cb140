"""The `localbatch` command: thin commands over the library (parse, one call, format).

Command modules are imported when their command runs (cli/lazy.py), so `localbatch
validate` does not pay for aiohttp, docker or rich.
"""

from __future__ import annotations

import click

from localbatch import __version__
from localbatch.cli.common import global_options
from localbatch.cli.lazy import LazyGroup

#: Modules under localbatch.cli that each define `register(group)`; one per command family.
COMMAND_MODULES = (
    "init",
    "validate",
    "instance_types",
    "oss",
    "oss_files",
    "run",
    "serve",
    "jobs",
    "report",
    "images",
)

#: Which module registers each command, so that only that module is imported. A command
#: missing here still works (its name makes every module load); tests keep this true.
COMMANDS = {
    "init": "init",
    "validate": "validate",
    "plan": "validate",
    "schema": "validate",
    "instance-types": "instance_types",
    "oss-serve": "oss",
    "oss": "oss_files",
    "run": "run",
    "serve": "serve",
    **dict.fromkeys(
        ("jobs", "submit", "start", "status", "logs", "stop", "delete", "priority"), "jobs"
    ),
    "report": "report",
    "images": "images",
}


@click.group(
    cls=LazyGroup,
    modules=COMMAND_MODULES,
    commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="localbatch")
@global_options
def main() -> None:
    """Run Alibaba Cloud BatchCompute jobs on one machine.

    --config, --state-dir and --oss-root may be given before the command or after it
    (after it wins).
    """
