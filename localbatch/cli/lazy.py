"""A click group that imports a command's module only when that command is needed.

Start-up time is most of what a quick command like `localbatch validate` costs: importing
every command family would pull in aiohttp, docker, rich and more on every call. The group
knows which module defines which command; `--help` (which lists them all) and an unknown
name import every module not loaded yet, so a module missing from the map still works.

It is also the one place Ctrl-C becomes exit status 130 (with a one-line note, never
click's "Aborted!" and exit 1), and a job store that cannot be written (full, read-only)
one line and exit status 2, for every command that does not handle them itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

import click

from localbatch.cli.common import EXIT_INTERRUPTED, fail
from localbatch.unwritable import StoreUnwritable


class LazyGroup(click.Group):
    """Commands registered by `localbatch.cli.<module>.register(group)` on first use."""

    def __init__(
        self,
        *args: Any,
        modules: Iterable[str] = (),
        commands: Mapping[str, str] | None = None,
        package: str = "localbatch.cli",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        #: Module names under `package` still to register, in their listed order.
        self.pending = list(modules)
        #: Command name -> the module that registers it.
        self.command_modules = dict(commands or {})
        self.package = package

    def load(self, module: str) -> None:
        """Import `module` and let it register its commands (once)."""
        if module in self.pending:
            self.pending.remove(module)
            importlib.import_module(f"{self.package}.{module}").register(self)

    def load_all(self) -> None:
        for module in list(self.pending):
            self.load(module)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = self.command_modules.get(cmd_name)
            if module is not None:
                self.load(module)
            if cmd_name not in self.commands:
                self.load_all()
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_all()
        return sorted(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StoreUnwritable as exc:
            fail(f"cannot use the state directory {exc.directory}: {exc.cause}")
        except KeyboardInterrupt:
            pass
        except click.Abort as abort:
            if not isinstance(abort.__context__, KeyboardInterrupt):
                raise
        click.echo("\nlocalbatch: interrupted", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED)
