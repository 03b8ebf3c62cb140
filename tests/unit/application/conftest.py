"""A config on a temporary state directory, for the application layer's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from localbatch.config import Config, load_config


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(
        tmp_path / "none.toml", env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss"
    )
