"""Fixtures every test directory shares: the Docker engine, the sandbox tool, the image.

On a developer's machine without Docker or bubblewrap the tests that need them are skipped
with the reason shown (`pytest -ra`); CI sets LOCALBATCH_REQUIRE_DOCKER=1 and
LOCALBATCH_REQUIRE_SANDBOX=1 so a missing one fails instead of skipping silently.

Every session runs in an environment of its own (`isolated_environment`): no setting of the
user's shell or config file, and no default state dir under the user's home, reaches a test
or the `localbatch` processes tests start. Hypothesis has no per-example deadline, so a busy
machine cannot turn a slow example into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from hypothesis import HealthCheck, settings

from localbatch.config import DEFAULT_DOCKER_IMAGE
from tests.small_disks import read_only, small_disk  # noqa: F401  (fixtures for every test)

#: Settings read from the environment (config.py, the OSS clients) that a developer's shell
#: may carry; a test sets the ones it needs itself.
LEAKY_PREFIXES = ("LOCALBATCH_", "OSS_")
#: What CI and a developer set on purpose, kept.
KEPT = ("LOCALBATCH_REQUIRE_DOCKER", "LOCALBATCH_REQUIRE_SANDBOX", "LOCALBATCH_REQUIRE_BROWSER")
#: Tests talk to servers on 127.0.0.1: never through a proxy the machine configures.
LOCAL_HOSTS = "127.0.0.1,localhost"

settings.register_profile(
    "localbatch", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "localbatch"))


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No user config, state dir or credentials: a missing config file, private XDG dirs."""
    home = tmp_path_factory.mktemp("xdg")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(LEAKY_PREFIXES) and name not in KEPT:
                patch.delenv(name)
        patch.setenv("LOCALBATCH_CONFIG", str(home / "no-config.toml"))
        patch.setenv("XDG_CONFIG_HOME", str(home / "config"))
        patch.setenv("XDG_DATA_HOME", str(home / "data"))
        # One image cache for the session: a root file system is prepared once, whichever
        # test (or `localbatch` process started by one) needs it first.
        patch.setenv("LOCALBATCH_IMAGE_CACHE", str(home / "image-cache"))
        for name in ("NO_PROXY", "no_proxy"):
            present = os.environ.get(name)
            patch.setenv(name, f"{present},{LOCAL_HOSTS}" if present else LOCAL_HOSTS)
        yield


def _missing(variable: str, reason: str) -> NoReturn:
    if os.environ.get(variable) == "1":
        pytest.fail(f"{reason} ({variable}=1 makes this a failure)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless chromium (tests/browser.py); skipped without it, failing under
    LOCALBATCH_REQUIRE_BROWSER=1 (CI)."""
    from tests.browser import REQUIRE_ENV, chromium, chromium_paths

    if chromium_paths() is None:
        _missing(REQUIRE_ENV, "chromium and chromium-driver are not installed")
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A Docker SDK client on an engine that answers."""
    import docker

    from localbatch.runtime.docker import ENGINE_ERRORS, engine_address

    try:
        client = docker.from_env()
        client.ping()
    except ENGINE_ERRORS as exc:
        _missing(
            "LOCALBATCH_REQUIRE_DOCKER",
            f"no Docker engine answers at {engine_address()} ({type(exc).__name__}): "
            "start one with `dockerd` to run the Docker tests",
        )
    yield client
    client.close()


@pytest.fixture(scope="session")
def bwrap_path() -> str:
    """bubblewrap's path, once it has shown it can create a sandbox here."""
    from localbatch.runtime.base import RuntimeUnavailable
    from localbatch.runtime.process import ProcessRuntime

    runtime = ProcessRuntime()
    try:
        runtime.check()
    except RuntimeUnavailable as exc:
        _missing("LOCALBATCH_REQUIRE_SANDBOX", str(exc))
    assert runtime.bwrap is not None
    return runtime.bwrap


def _build_default(client: Any, variable: str) -> None:
    """Both forms of the default image, as `localbatch images build` makes them: one
    debootstrap when neither exists (about a minute), the root file system unpacked from
    the engine's image when only that exists; nothing when both exist."""
    from localbatch.images.store import RootfsStore
    from localbatch.runtime.images import ImageBuildError, build_default_images

    store = RootfsStore(Path(os.environ["LOCALBATCH_IMAGE_CACHE"]))
    try:
        build_default_images(client, store, DEFAULT_DOCKER_IMAGE)
    except ImageBuildError as exc:
        _missing(variable, f"cannot build {DEFAULT_DOCKER_IMAGE}: {exc}")


@pytest.fixture(scope="session")
def default_image(docker_client: Any) -> str:
    """The default local image in the engine (and in the session's image cache)."""
    _build_default(docker_client, "LOCALBATCH_REQUIRE_DOCKER")
    return DEFAULT_DOCKER_IMAGE


@pytest.fixture(scope="session")
def default_rootfs(bwrap_path: str) -> str:
    """The default image prepared for the process runtime in the session's image cache,
    from the engine's image when an engine answers, else built with debootstrap."""
    import docker

    from localbatch.runtime.docker import ENGINE_ERRORS

    try:
        client = docker.from_env()
        client.ping()
    except ENGINE_ERRORS:
        client = None
    _build_default(client, "LOCALBATCH_REQUIRE_SANDBOX")
    return DEFAULT_DOCKER_IMAGE
