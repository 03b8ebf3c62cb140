"""Starting a container: its output is followed from its first byte, exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localbatch.runtime.docker import DockerHandle, DockerRuntime

from .specs import attempt_spec


class NewContainer:
    """The Engine API calls of creating, attaching to and starting one container."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_host_config(self, **options: Any) -> dict[str, Any]:
        return options

    def create_container(self, image: str, **options: Any) -> dict[str, str]:
        self.calls.append(("create", options))
        return {"Id": "c-1"}

    def attach(self, ref: str, **options: Any) -> Any:
        self.calls.append(("attach", options))
        return iter(())

    def start(self, ref: str) -> None:
        self.calls.append(("start", {}))

    def inspect_container(self, ref: str) -> dict[str, Any]:
        return {"State": {"Pid": 0}}  # ended already: no process to measure

    def wait(self, ref: str) -> dict[str, int]:
        return {"StatusCode": 0}


class Client:
    def __init__(self, api: NewContainer) -> None:
        self.api = api


def test_the_live_stream_alone_is_attached_before_the_start(tmp_path: Path) -> None:
    api = NewContainer()
    spec = attempt_spec(
        workdir=tmp_path,
        image="img",
        stdout_path=tmp_path / "out",
        stderr_path=tmp_path / "err",
    )
    handle = DockerRuntime(Client(api)).start(spec)
    assert isinstance(handle, DockerHandle)
    assert [name for name, _ in api.calls] == ["create", "attach", "start"]
    # The engine's log holds what the live stream delivers too: replaying it (logs=True)
    # wrote the program's first lines twice when they came before the replay ended.
    attach = api.calls[1][1]
    assert attach["stream"] and not attach["logs"]
