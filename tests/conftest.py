"""Fixtures every test directory shares: the Docker engine, the sandbox tool, the image.

On a developer's machine without Docker or bubblewrap the tests that need them are skipped
with the reason shown (`pytest -ra`); CI sets LOCALBATCH_REQUIRE_DOCKER=1 and
LOCALBATCH_REQUIRE_SANDBOX=1 so a missing one fails instead of skipping silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

from localbatch.config import DEFAULT_DOCKER_IMAGE


def _missing(variable: str, reason: str) -> NoReturn:
    if os.environ.get(variable) == "1":
        pytest.fail(f"{reason} ({variable}=1 makes this a failure)", pytrace=False)
    pytest.skip(reason)


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


@pytest.fixture(scope="session")
def default_image(docker_client: Any) -> str:
    """The default local image, built once (about a minute) and cached by Docker after."""
    from localbatch.runtime.images import ImageBuildError, build_default_image

    try:
        build_default_image(docker_client, DEFAULT_DOCKER_IMAGE)
    except ImageBuildError as exc:
        _missing("LOCALBATCH_REQUIRE_DOCKER", f"cannot build {DEFAULT_DOCKER_IMAGE}: {exc}")
    return DEFAULT_DOCKER_IMAGE
