"""The runtime registry: the names offered, what each runtime declares, where its instances
reach this host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localbatch.config import SwarmSettings, load_config
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
from localbatch.runtime.swarm import SwarmRuntime

CLASSES = {
    "docker": DockerRuntime,
    "swarm": SwarmRuntime,
    "process": ProcessRuntime,
    "fake": FakeRuntime,
}
CONFIG = load_config(Path("/nonexistent/config.toml"), env={}, state_dir=Path("/nonexistent"))


def test_instance_hosts() -> None:
    assert instance_host("process", CONFIG) == "127.0.0.1"
    assert instance_host("fake", CONFIG) == "127.0.0.1"
    with pytest.raises(RuntimeUnavailable, match="unknown runtime 'vm'"):
        instance_host("vm", CONFIG)


def test_choices_offer_the_test_runtime_only_where_asked() -> None:
    assert choices() == ("auto", "docker", "swarm", "process")
    assert choices(for_tests=True) == ("auto", "docker", "swarm", "process", "fake")
    assert describe_choices() == (
        "Docker containers or Docker Swarm services or the daemon-less sandbox"
    )
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


def test_only_the_swarm_runtime_needs_shared_storage() -> None:
    """Its instances run on other machines: storage's needs must be on shared storage."""
    sharing = {name: lookup(name).capabilities.shares_host_files for name in CLASSES}
    assert sharing == {"docker": True, "swarm": False, "process": True, "fake": True}


def test_swarm_instances_reach_the_configured_address() -> None:
    config = CONFIG.with_overrides(swarm=SwarmSettings(advertise_address="10.1.2.3"))
    assert instance_host("swarm", config) == "10.1.2.3"


def test_the_fake_runtime_follows_its_environment_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAKE_STEP_ENV, json.dumps({"exit_code": 3}))
    config = load_config(tmp_path / "none.toml", env={}, state_dir=tmp_path)
    runtime, notice = lookup("fake").create(RuntimeOptions(config))
    assert isinstance(runtime, FakeRuntime) and runtime.default == FakeStep(exit_code=3)
    assert notice.startswith("runtime: fake (nothing runs; every attempt: FakeStep(exit_code=3")
