"""'no Docker engine answered' is one readable line: address, short reason, what to do."""

from __future__ import annotations

import errno

import pytest

from localbatch.runtime.base import RuntimeUnavailable
from localbatch.runtime.docker import DockerRuntime
from localbatch.runtime.engine_unreachable import short_reason, unreachable_message


def _wrapped(inner: OSError) -> Exception:
    """Shaped like the Docker SDK's chain: an error whose args hold another holding `inner`."""
    protocol = Exception("Connection aborted.", inner)
    try:
        raise RuntimeError(protocol)
    except RuntimeError as exc:
        outer = Exception(f"Error while fetching server API version: {exc}")
        outer.__cause__ = exc
        return outer


def test_a_missing_socket_names_it_without_the_repr_soup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    with pytest.raises(RuntimeUnavailable) as caught:
        DockerRuntime().ping()
    message = str(caught.value)
    assert message.startswith(
        "no Docker engine answered at unix:///nonexistent.sock: no such socket /nonexistent.sock;"
    )
    assert "--runtime process" in message and "dockerd" in message
    assert "FileNotFoundError" not in message and "(" not in message.split(";")[0]


@pytest.mark.parametrize(
    ("address", "inner", "reason"),
    [
        (
            "unix:///var/run/docker.sock",
            PermissionError(errno.EACCES, "Permission denied"),
            "permission denied on /var/run/docker.sock",
        ),
        ("tcp://h:2375", ConnectionRefusedError(errno.ECONNREFUSED, "x"), "connection refused"),
        ("tcp://h:2375", OSError(errno.EHOSTUNREACH, "No route to host"), "No route to host"),
    ],
)
def test_the_operating_system_reason_is_found_under_the_wrappers(
    address: str, inner: OSError, reason: str
) -> None:
    assert short_reason(address, _wrapped(inner)).startswith(reason)


def test_without_an_os_error_the_first_line_of_the_message_is_kept() -> None:
    message = unreachable_message("tcp://h:1", Exception("TLS handshake failed\nmore detail"))
    assert message.startswith("no Docker engine answered at tcp://h:1: TLS handshake failed;")
