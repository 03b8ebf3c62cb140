"""`localbatch start` with no server: the job runs here and its programs' output is shown
as `run` shows it (`-q`: not at all), among the progress lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localbatch.cli.job_start import start_here
from localbatch.config import load_config
from localbatch.runtime.registry import FAKE_STEP_ENV
from localbatch.spec.model import parse_job
from localbatch.store import Store
from tests.unit.server.server_helpers import make_body

JOB = "job-AB000000000000000000000000000001"


@pytest.mark.parametrize("quiet", [False, True])
def test_a_job_started_here_shows_its_programs_output_unless_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, quiet: bool
) -> None:
    monkeypatch.setenv(FAKE_STEP_ENV, json.dumps({"stdout": "from-the-program\n"}))
    config = load_config(
        tmp_path / "none.toml", env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss"
    )
    store = Store.open(config.state_dir)
    store.create_job(JOB, parse_job(make_body(instances=1)), created=0.0, runner="1:1.0")
    store.close()
    assert start_here(config, JOB, "fake", quiet=quiet) == 0  # its runner is gone: recovered
    lines = capsys.readouterr().out.splitlines()
    shown = [line for line in lines if "from-the-program" in line]
    assert shown == ([] if quiet else ["split.0 | from-the-program", "merge.0 | from-the-program"])
    assert any(line.endswith(f"job {JOB} Finished") for line in lines)
