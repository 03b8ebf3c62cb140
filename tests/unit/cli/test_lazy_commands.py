"""Command modules load only when needed: `validate` starts without the heavy libraries."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from localbatch.cli import COMMAND_MODULES, COMMANDS, main
from localbatch.cli.lazy import LazyGroup

REPO = Path(__file__).parents[3]
HEAVY = ("aiohttp", "docker", "fsspec", "rich", "networkx")

#: Runs the CLI in a fresh interpreter, then reports which modules it had imported.
PROBE = """
import json, sys
from localbatch.cli import main
try:
    main(sys.argv[1:], prog_name="localbatch")
except SystemExit as exit:
    status = exit.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def loaded_by(*args: str) -> tuple[int, set[str]]:
    env = {**os.environ, "LOCALBATCH_CONFIG": os.devnull, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    return report["status"], set(report["modules"])


def test_validate_imports_no_heavy_library_and_no_other_command() -> None:
    status, modules = loaded_by("validate", "examples/logcount/job.json")
    assert status == 0
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == []
    others = {f"localbatch.cli.{name}" for name in COMMAND_MODULES if name != "validate"}
    assert modules & others == set()


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.output


def test_the_command_map_matches_what_each_module_registers() -> None:
    registered = {}
    for module in COMMAND_MODULES:
        group = click.Group()
        importlib.import_module(f"localbatch.cli.{module}").register(group)
        registered.update(dict.fromkeys(group.commands, module))
    assert registered == COMMANDS


def test_a_command_missing_from_the_map_is_still_found() -> None:
    group = LazyGroup(modules=["validate"], commands={}, package="localbatch.cli")
    context = click.Context(group)
    command = group.get_command(context, "plan")
    assert command is not None and command.name == "plan"
    assert group.get_command(context, "no-such-command") is None


def _group_with(command: click.Command) -> LazyGroup:
    group = LazyGroup("g")
    group.add_command(command)
    return group


def test_ctrl_c_in_any_command_exits_130_without_aborted() -> None:
    @click.command("wait")
    def wait() -> None:
        raise KeyboardInterrupt

    result = CliRunner().invoke(_group_with(wait), ["wait"])
    assert result.exit_code == 130
    assert "Aborted!" not in result.output and "interrupted" in result.output


def test_ctrl_c_at_a_prompt_exits_130_but_a_declined_confirm_stays_an_abort() -> None:
    @click.command("ask")
    def ask() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise click.Abort() from None

    @click.command("confirm")
    def confirm() -> None:
        click.confirm("sure?", abort=True)

    assert CliRunner().invoke(_group_with(ask), ["ask"]).exit_code == 130
    declined = CliRunner().invoke(_group_with(confirm), ["confirm"], input="n\n")
    assert declined.exit_code == 1 and "Aborted!" in declined.output
