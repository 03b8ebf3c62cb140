"""README.md, followed as written by a new user: `pip install .` (and `pipx install .`) from
a clone gives a working `localbatch`, and the commands of "Your first job" run one after
the other with it. The commands are read from README.md, so the README cannot drift."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from localbatch.runtime.base import RuntimeUnavailable
from localbatch.runtime.docker import DockerRuntime

ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGH = "## Your first job"
#: pip and pipx resolve and install the dependencies: minutes on a slow index.
INSTALL_TIMEOUT = 900


def walkthrough_commands(readme: str) -> list[str]:
    """The commands of the first ```sh block under the walk-through heading."""
    section = readme.split(f"\n{WALKTHROUGH}\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and line[0] != "#"]


def _clone(destination: Path) -> Path:
    """The repository's files as a clone has them (tracked and new, not ignored ones)."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}{done.stderr}"
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _clone(tmp_path_factory.mktemp("clone"))


@pytest.fixture(scope="module")
def pip_installed(clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a fresh virtual environment where `pip install .` ran in the clone."""
    environment = tmp_path_factory.mktemp("venv")
    venv.create(environment, with_pip=True)
    pip = environment / "bin" / "pip"
    _run([str(pip), "install", "--quiet", "."], cwd=clone, timeout=INSTALL_TIMEOUT)
    return environment / "bin"


def test_pip_install_gives_a_working_localbatch(pip_installed: Path, tmp_path: Path) -> None:
    localbatch = str(pip_installed / "localbatch")
    assert "localbatch, version" in _run([localbatch, "--version"]).stdout
    # The starter job's files are package data: they must have been installed too.
    options = ["--oss-root", str(tmp_path / "oss"), "--state-dir", str(tmp_path / "state")]
    _run([localbatch, *options, "init", str(tmp_path / "job")])
    _run([localbatch, *options, "validate", "--strict", str(tmp_path / "job" / "job.json")])


def test_pipx_install_gives_a_working_localbatch(
    pip_installed: Path, clone: Path, tmp_path: Path
) -> None:
    _run([str(pip_installed / "pip"), "install", "--quiet", "pipx"], timeout=INSTALL_TIMEOUT)
    homes = {name: str(tmp_path / name) for name in ("PIPX_HOME", "PIPX_BIN_DIR", "PIPX_MAN_DIR")}
    env = {**os.environ, **homes}
    _run([str(pip_installed / "pipx"), "install", "."], cwd=clone, env=env, timeout=INSTALL_TIMEOUT)
    localbatch = str(tmp_path / "PIPX_BIN_DIR" / "localbatch")
    assert "localbatch, version" in _run([localbatch, "--version"]).stdout


@pytest.fixture
def runtime_ready(request: pytest.FixtureRequest) -> Iterator[None]:
    """What `run --runtime auto` will use here: the default image when Docker answers."""
    try:
        DockerRuntime().ping()
    except RuntimeUnavailable:
        request.getfixturevalue("bwrap_path")
    else:
        request.getfixturevalue("default_image")
    yield


def test_the_readme_walkthrough_runs_as_written(
    pip_installed: Path, tmp_path: Path, runtime_ready: None
) -> None:
    commands = walkthrough_commands((ROOT / "README.md").read_text())
    assert commands[0].startswith("localbatch init") and len(commands) >= 5
    env = {
        **os.environ,
        "PATH": f"{pip_installed}{os.pathsep}{os.environ['PATH']}",
        "XDG_DATA_HOME": str(tmp_path / "data"),  # this walk-through's own state and OSS
        "HOME": str(tmp_path / "home"),
    }
    work = tmp_path / "work"
    work.mkdir()
    outputs = {}
    for command in commands:
        done = subprocess.run(
            command, shell=True, cwd=work, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"`{command}` failed:\n{done.stdout}{done.stderr}"
        outputs[command] = done.stdout
    counted = [
        json.loads(out) for cmd, out in outputs.items() if cmd.startswith("localbatch oss cat")
    ]
    assert counted and all(counted), outputs
    status = next(out for cmd, out in outputs.items() if cmd.startswith("localbatch status"))
    assert "Finished" in status
    logs = next(out for cmd, out in outputs.items() if cmd.startswith("localbatch logs"))
    assert "count.0 | instance 0:" in logs and "count.1 | instance 1:" in logs


def test_the_walkthrough_is_found_in_a_readme() -> None:
    readme = (
        f"# x\n\n{WALKTHROUGH}\n\ntext\n\n```sh\nlocalbatch a\n\nlocalbatch b\n```\n\n## Next\n"
    )
    assert walkthrough_commands(readme) == ["localbatch a", "localbatch b"]
