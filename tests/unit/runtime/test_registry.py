"""The runtime registry: the names offered, what each runtime declares, where its instances
reach this host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localbatch.config import load_config
from localbatch.runtime.base import RuntimeUnavailable
from localbatch.runtime.docker import DockerRuntime
from localbatch.runtime.fake import FakeRuntime, FakeStep
from localbatch.runtime.process import ProcessRuntime
from localbatch.runtime.registry import (
    FAKE_STEP_ENV,
    RuntimeOptions,
    choices,
    describe_choices,
    instance_host,
    lookup,
)

CLASSES = {"docker": DockerRuntime, "process": ProcessRuntime, "fake": FakeRuntime}


def test_instance_hosts() -> None:
    assert instance_host("process") == "127.0.0.1"
    assert instance_host("fake") == "127.0.0.1"
    with pytest.raises(RuntimeUnavailable, match="unknown runtime 'vm'"):
        instance_host("vm")


def test_choices_offer_the_test_runtime_only_where_asked() -> None:
    assert choices() == ("auto", "docker", "process")
    assert choices(for_tests=True) == ("auto", "docker", "process", "fake")
    assert describe_choices() == "Docker containers or the daemon-less sandbox"
    assert describe_choices(for_tests=True).endswith(
        "; fake is a scripted in-memory runtime for tests "
        "(runs nothing; each attempt as $LOCALBATCH_FAKE_STEP)"
    )


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_declared_capabilities_are_the_runtimes_own(name: str) -> None:
    """What the registry says a runtime can do is what its class does."""
    runtime, declared = CLASSES[name], lookup(name).capabilities
    assert runtime.name == name
    assert runtime.uses_images is declared.uses_images
    assert hasattr(runtime, "reattach") is declared.reattaches


def test_the_fake_runtime_follows_its_environment_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAKE_STEP_ENV, json.dumps({"exit_code": 3}))
    config = load_config(tmp_path / "none.toml", env={}, state_dir=tmp_path)
    runtime, notice = lookup("fake").create(RuntimeOptions(config))
    assert isinstance(runtime, FakeRuntime) and runtime.default == FakeStep(exit_code=3)
    assert notice.startswith("runtime: fake (nothing runs; every attempt: FakeStep(exit_code=3")
