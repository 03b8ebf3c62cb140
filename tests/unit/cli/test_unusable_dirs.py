"""A full, read-only or unwritable state dir or OSS root: every command says so in one line
naming the path and the cause, exits 2, and prints no traceback.

Real small tmpfs mounts and read-only binds (root only; skipped with the reason otherwise),
and `localbatch` as a real process, as a user would meet it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from localbatch.store import Store
from tests.small_disks import fill
from tests.unit.server.server_helpers import make_body

JOB_COMMANDS = [
    ["jobs"],
    ["status", "job-x"],
    ["logs", "job-x"],
    ["stop", "job-x"],
    ["start", "job-x", "--runtime", "process"],
    ["delete", "job-x"],
    ["priority", "job-x", "3"],
]


def _localbatch(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOCALBATCH_CONFIG": "/nonexistent/none.toml"}
    return subprocess.run(
        [sys.executable, "-m", "localbatch", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def _one_line(result: subprocess.CompletedProcess[str], path: Path, cause: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert str(path) in last and cause in last, result.stderr


def _job_file(tmp_path: Path) -> Path:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(make_body(instances=1)))
    return path


def _with_a_store(state: Path) -> Path:
    Store.open(state).close()
    return state


@pytest.mark.parametrize("kind", ["full", "read-only", "unwritable"])
def test_every_command_names_an_unusable_state_dir(
    tmp_path: Path,
    small_disk: Callable[[Path, str], Path],
    read_only: Callable[[Path], Path],
    kind: str,
) -> None:
    state = tmp_path / "state"
    if kind == "full":
        fill(_with_a_store(small_disk(state, "1m")))
        cause = "no space left on device"
    elif kind == "read-only":
        read_only(_with_a_store(state))
        cause = "read-only file system"
    else:  # root may write anywhere but through a file where a directory should be
        (tmp_path / "blocked").write_text("")
        state = tmp_path / "blocked" / "state"
        cause = "Not a directory"
    job = _job_file(tmp_path)
    oss = ["--oss-root", str(tmp_path / "oss")]
    commands = [*JOB_COMMANDS, ["run", str(job), "--runtime", "process", *oss]]
    commands.append(["serve", "--runtime", "fake", "--port", "0", "--oss-port", "0", *oss])
    commands.append(["submit", str(job)])
    for command in commands:
        result = _localbatch(*command, "--state-dir", str(state))
        if command[0] == "submit":  # it only looks for a server in the state dir
            assert result.returncode == 2 and "Traceback" not in result.stderr
            continue
        _one_line(result, state, cause)


@pytest.mark.parametrize("kind", ["full", "read-only"])
def test_commands_name_an_unusable_oss_root(
    tmp_path: Path,
    small_disk: Callable[[Path, str], Path],
    read_only: Callable[[Path], Path],
    kind: str,
) -> None:
    root = tmp_path / "oss"
    if kind == "full":
        fill(small_disk(root, "1m"))
        cause = "no space left on device"
    else:
        read_only(root)
        cause = "read-only file system"
    state = ["--state-dir", str(tmp_path / "state"), "--oss-root", str(root)]
    job = _job_file(tmp_path)
    source = tmp_path / "data.txt"
    source.write_text("data\n")
    for command in (
        ["run", str(job), "--runtime", "process"],
        ["serve", "--runtime", "fake", "--port", "0", "--oss-port", "0"],
        ["oss-serve"],
        ["oss", "cp", str(source), "oss://bucket/in/"],
    ):
        _one_line(_localbatch(*command, *state), root, cause)


def test_a_download_into_a_full_directory_names_it(
    tmp_path: Path, small_disk: Callable[[Path, str], Path]
) -> None:
    root = tmp_path / "oss"
    (root / "bucket").mkdir(parents=True)
    (root / "bucket" / "big.bin").write_bytes(os.urandom(2_000_000))
    target = small_disk(tmp_path / "small", "1m")
    result = _localbatch("oss", "cp", "oss://bucket/big.bin", f"{target}/", "--oss-root", str(root))
    _one_line(result, target, "no space left on device")
    assert [p.name for p in target.iterdir()] == []  # nothing half-written left
