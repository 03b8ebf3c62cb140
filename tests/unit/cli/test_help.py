"""`localbatch --help` and group helps list each command with its whole summary, not cut."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from localbatch.cli import main


@pytest.mark.parametrize("args", [[], ["images"], ["oss"]])
def test_command_summaries_are_not_cut(args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, "--help"], terminal_width=80)
    assert result.exit_code == 0
    listed = result.output.split("Commands:\n", 1)[1].splitlines()
    cut = [line for line in listed if line.endswith("...")]
    assert cut == []


def test_delete_says_the_job_files_stay_on_disk() -> None:
    result = CliRunner().invoke(main, ["delete", "--help"], terminal_width=80)
    assert "files (logs, events.jsonl) stay" in result.output


def test_shell_completion_completes_commands() -> None:
    """The completion docs/commands.md documents (click's) works with the lazy group."""
    env = {
        "_LOCALBATCH_COMPLETE": "bash_complete",
        "COMP_WORDS": "localbatch oss c",
        "COMP_CWORD": "2",
    }
    result = CliRunner().invoke(main, [], env=env, prog_name="localbatch")
    assert result.stdout.splitlines() == ["plain,cat", "plain,cp"]
