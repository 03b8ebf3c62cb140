"""The `localbatch` command: thin commands over the library (parse, one call, format)."""

from __future__ import annotations

import importlib

import click

from localbatch import __version__

#: Modules under localbatch.cli that each define `register(group)`; one per command family.
COMMAND_MODULES = ("validate", "oss", "run", "serve", "jobs", "images")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="localbatch")
def main() -> None:
    """Run Alibaba Cloud BatchCompute jobs on one machine."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"localbatch.cli.{_name}").register(main)
