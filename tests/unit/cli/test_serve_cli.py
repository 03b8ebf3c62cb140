"""`localbatch serve` before it listens: state directory, runtime help, quiet bad requests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from localbatch.cli import main
from localbatch.cli.server_logs import AIOHTTP_SERVER_LOGGER, BadRequestOneLine


@pytest.fixture(autouse=True)
def aiohttp_filters_restored() -> Iterator[logging.Logger]:
    logger = logging.getLogger(AIOHTTP_SERVER_LOGGER)
    before = list(logger.filters)
    yield logger
    logger.filters[:] = before


def _serve(tmp_path: Path, state_dir: Path) -> Result:
    args = ["serve", "--runtime", "fake", "--port", "0", "--oss-port", "0"]
    args += ["--state-dir", str(state_dir), "--oss-root", str(tmp_path / "oss")]
    args += ["--config", str(tmp_path / "none.toml")]
    return CliRunner().invoke(main, args)


def test_a_state_dir_that_is_not_a_database_is_one_line_exit_2(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "localbatch.db").write_text("not a database at all, just text\n" * 10)
    result = _serve(tmp_path, state)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"localbatch: cannot use the state directory {state}" in result.output
    assert "Traceback" not in result.output


def test_a_state_dir_under_a_file_is_not_reported_as_a_listen_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = _serve(tmp_path, tmp_path / "file" / "state")
    assert result.exit_code == 2, result.output
    assert "cannot use the state directory" in result.output
    assert "cannot listen" not in result.output


def test_serve_turns_non_http_requests_into_one_line(
    tmp_path: Path, aiohttp_filters_restored: logging.Logger
) -> None:
    (tmp_path / "file").write_text("")
    _serve(tmp_path, tmp_path / "file" / "state")  # the filter goes on before anything else
    assert any(isinstance(f, BadRequestOneLine) for f in aiohttp_filters_restored.filters)


def test_help_says_what_the_fake_runtime_is() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200)
    assert "fake is a scripted in-memory runtime for tests" in result.output
