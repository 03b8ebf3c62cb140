"""--runtime auto|docker|process: the choice and the one line that reports it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localbatch.config import load_config
from localbatch.runtime.base import RuntimeUnavailable
from localbatch.runtime.select import select_runtime


@pytest.fixture
def config(tmp_path: Path) -> Any:
    return load_config(tmp_path / "none.toml", env={}, state_dir=tmp_path)


def test_auto_prefers_docker(docker_client: Any, config: Any) -> None:
    runtime, notice = select_runtime("auto", config)
    assert runtime.name == "docker"
    assert notice.startswith("runtime: docker (Docker Engine ")


def test_auto_falls_back_to_the_sandbox(
    bwrap_path: str, config: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    runtime, notice = select_runtime("auto", config)
    assert runtime.name == "process"
    assert notice.startswith("runtime: process (bubblewrap ")
    socket = f"{tmp_path}/no.sock"
    assert f"no Docker engine answered at unix://{socket}: no such socket {socket})" in notice


def test_docker_without_an_engine_says_how_to_start_one(
    config: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    with pytest.raises(RuntimeUnavailable, match="dockerd"):
        select_runtime("docker", config)


def test_nothing_available_names_both_fixes(
    config: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeUnavailable) as caught:
        select_runtime("auto", config)
    assert "docker.io" in str(caught.value)
    assert "apt-get install bubblewrap" in str(caught.value)
    assert "--runtime process" not in str(caught.value)  # it cannot run here either


def test_unknown_choice(config: Any) -> None:
    with pytest.raises(RuntimeUnavailable, match="auto, docker, swarm, process"):
        select_runtime("podman", config)
