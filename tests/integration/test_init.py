"""`localbatch init DIR` then `localbatch run DIR/job.json`, on each real runtime: the job it
writes runs as it is, its OutputMapping feeding the next task's InputMapping, each `count`
instance counting the part its BATCH_COMPUTE_DAG_INSTANCE_ID names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from localbatch.starter.scaffold import COUNT_INSTANCES


def _localbatch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    options = ["--state-dir", str(tmp_path / "state"), "--oss-root", str(tmp_path / "oss")]
    return subprocess.run(
        [sys.executable, "-m", "localbatch", *options, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LOCALBATCH_CONFIG": str(tmp_path / "none.toml")},
    )


@pytest.mark.parametrize(
    "runtime",
    [
        pytest.param("process", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def test_init_then_run(runtime: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if runtime == "docker":
        request.getfixturevalue("default_image")
    else:
        request.getfixturevalue("bwrap_path")
    directory = tmp_path / "first"
    init = _localbatch(tmp_path, "init", str(directory))
    assert init.returncode == 0, init.stdout + init.stderr
    done = _localbatch(tmp_path, "run", str(directory / "job.json"), "--runtime", runtime)
    assert done.returncode == 0, done.stdout + done.stderr

    counts_dir = tmp_path / "oss" / "localbatch-jobs" / "first" / "counts"
    results = sorted(counts_dir.iterdir())
    assert [p.name for p in results] == [f"count-{n}.json" for n in range(COUNT_INSTANCES)]
    total: Counter[str] = Counter()
    for result in results:
        part = json.loads(result.read_text())
        assert part, f"{result.name} counted nothing: every instance had its own part"
        total.update(part)
    words = (directory / "input" / "words.txt").read_text().lower().split()
    assert total == Counter(words)
