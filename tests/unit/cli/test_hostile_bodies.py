"""Bodies that are JSON to Python but not to localbatch: every command answers the same way
as the API (400 InvalidJsonFormat), in one place, without a traceback.

These run `localbatch` as a real process: what matters is what a terminal or a pipe gets
(an unencodable character fails only when it is written to a real stream).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.spec.bodies import job_body

SURROGATE_BODIES = {
    "key": json.dumps(job_body(**{"Unknown\ud800": 1})),
    "value": json.dumps(job_body(Description="a \udfff b")),
    "name": json.dumps(job_body(Name="\ud800")),
}


def _localbatch(tmp_path: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localbatch", *args, "--state-dir", str(tmp_path / "state")],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("where", sorted(SURROGATE_BODIES))
def test_every_command_refuses_lone_surrogates_alike(tmp_path: Path, where: str) -> None:
    text = SURROGATE_BODIES[where]
    assert "\\ud" in text or "\\ud" in text.lower()  # sent as JSON escapes, ASCII only

    report = _localbatch(tmp_path, "validate", "-", "--json", stdin=text)
    assert report.returncode == 1, report.stderr
    assert json.loads(report.stdout)["errors"][0]["Code"] == "InvalidJsonFormat"
    assert "lone surrogate" in report.stderr

    plain = _localbatch(tmp_path, "validate", "-", stdin=text)
    assert plain.returncode == 1
    assert plain.stdout.startswith("400 InvalidJsonFormat:")

    run = _localbatch(tmp_path, "run", "-", "--runtime", "process", stdin=text)
    assert run.returncode == 1
    assert run.stdout.startswith("400 InvalidJsonFormat:")

    submit = _localbatch(tmp_path, "submit", "-", "--url", "http://127.0.0.1:9", stdin=text)
    assert submit.returncode == 1
    assert "InvalidJsonFormat" in submit.stderr

    for result in (report, plain, run, submit):
        assert "Traceback" not in result.stderr, result.stderr


def test_too_deep_and_out_of_range_bodies_alike(tmp_path: Path) -> None:
    deep = json.dumps(job_body(Unknown="LEAF")).replace('"LEAF"', "[" * 5000 + "]" * 5000)
    huge = json.dumps(job_body()).replace('"Priority": 1', '"Priority": 1e400')
    for text, reason in ((deep, "nested more than 64 levels"), (huge, "out of range")):
        report = _localbatch(tmp_path, "validate", "-", "--json", stdin=text)
        assert report.returncode == 1
        assert json.loads(report.stdout)["errors"][0]["Code"] == "InvalidJsonFormat"
        assert reason in report.stderr
        assert "Traceback" not in report.stderr
