"""What a surface may ask of the runtime it chose: --pull only where images are used; package
views that are files for a runtime on other machines."""

from __future__ import annotations

from pathlib import Path

import pytest

from localbatch.application.runtime_choice import allow_pulls, storage_config
from localbatch.config import ConfigError, load_config
from localbatch.runtime.fake import FakeRuntime


class Pulling(FakeRuntime):
    """A runtime that uses images and can pull them, as the docker runtime does."""

    uses_images = True

    def __init__(self) -> None:
        super().__init__()
        self.pull = False


def test_pull_is_refused_for_a_runtime_without_images() -> None:
    with pytest.raises(ValueError) as refused:
        allow_pulls(FakeRuntime())
    assert str(refused.value) == "--pull applies to the docker or swarm runtime only, not to fake"


def test_pull_is_allowed_where_images_are_used() -> None:
    runtime = Pulling()
    allow_pulls(runtime)
    assert runtime.pull is True


class Remote(FakeRuntime):
    """Stands for a runtime on other machines (the registry's swarm entry)."""

    name = "swarm"


@pytest.mark.parametrize(("asked", "given"), [("auto", "link"), ("link", "link"), ("copy", "copy")])
def test_a_runtime_on_other_machines_gets_package_files_not_overlays(
    tmp_path: Path, asked: str, given: str
) -> None:
    config = load_config(tmp_path / "none.toml", env={}).with_overrides(package_copy=asked)
    assert storage_config(config, Remote()).package_copy == given
    assert storage_config(config, FakeRuntime()).package_copy == asked  # on this host


def test_overlay_views_are_refused_for_a_runtime_on_other_machines(tmp_path: Path) -> None:
    config = load_config(tmp_path / "none.toml", env={}).with_overrides(package_copy="overlay")
    with pytest.raises(ConfigError, match="overlay is a mount on this host"):
        storage_config(config, Remote())
