"""The README's first command: the split -> count -> merge example, end to end.

The example is staged into a private OSS root, run with `localbatch run` on each real
runtime, and its merged output must be in the OSS root with the right counts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "logcount"


def _stage(oss_root: Path) -> None:
    spec = importlib.util.spec_from_file_location("logcount_stage", EXAMPLE / "stage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.stage(oss_root)


def _expected() -> dict[str, int]:
    levels: Counter[str] = Counter()
    for log in (EXAMPLE / "input").glob("*.log"):
        for line in log.read_text().splitlines():
            words = line.split()
            if len(words) >= 2:
                levels[words[1]] += 1
    return dict(levels)


@pytest.mark.parametrize(
    "runtime",
    [
        pytest.param("process", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def test_logcount_produces_its_merged_output(
    runtime: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if runtime == "docker":
        request.getfixturevalue("docker_client")
        request.getfixturevalue("default_image")
    else:
        request.getfixturevalue("default_rootfs")
    oss_root = tmp_path / "oss"
    _stage(oss_root)
    command = [sys.executable, "-m", "localbatch", "run", str(EXAMPLE / "job.json")]
    command += ["--runtime", runtime, "--state-dir", str(tmp_path / "state")]
    command += ["--oss-root", str(oss_root)]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command + list(extra),
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "LOCALBATCH_CONFIG": str(tmp_path / "none.toml")},
        )

    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    result = oss_root / "localbatch-demo" / "logcount" / "result" / "result.json"
    assert json.loads(result.read_text()) == _expected()
    logs = list((oss_root / "localbatch-demo" / "logcount" / "logs").glob("stdout.*.count.*"))
    assert len(logs) == 3

    # --only merge: the counts already in OSS are merged again; nothing upstream runs.
    result.unlink()
    again = run("--only", "merge")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(result.read_text()) == _expected()
    assert (
        "task split not run (--only)" in again.stdout
        and "instance count.0 Running" not in again.stdout
    )
