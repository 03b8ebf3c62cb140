"""Fixtures for the storage tests: a private state dir and OSS root, or a memory:// bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from localbatch.config import Config
from tests.unit.storage.storage_helpers import make_config, unmount_all_under


@pytest.fixture(autouse=True)
def no_overlay_left_mounted(tmp_path: Path) -> Iterator[None]:
    """Whatever a test leaves mounted under its tmp_path (a failure midway) is unmounted."""
    yield
    unmount_all_under(tmp_path)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def memory_config(tmp_path: Path) -> Iterator[Config]:
    """Bucket `mem` aliased to a fresh memory:// directory."""
    name = f"lb-{uuid.uuid4().hex}"
    yield make_config(tmp_path, f'[oss.buckets]\nmem = "memory://{name}"\n')
    memory = fsspec.filesystem("memory")
    if memory.exists(f"/{name}"):
        memory.rm(f"/{name}", recursive=True)
