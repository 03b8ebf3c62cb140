"""An endpoint that a job's instances can reach, for the runtime that runs them.

A container reaches the host through the Docker bridge's gateway address, so for the
docker runtime the endpoint listens there (and only there: never on every interface). A
process or sandbox shares the host's loopback, so 127.0.0.1 serves it. The engine sets
`BATCH_COMPUTE_OSS_HOST` and `OSS_ENDPOINT` to `endpoint.address` (`host:port`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localbatch.ossendpoint.server import OssEndpoint
from localbatch.runtime.base import RuntimeUnavailable

LOOPBACK = "127.0.0.1"


def docker_bridge_gateway() -> str:
    """The host's address on Docker's default bridge network, as containers see it."""
    try:
        import docker
        import docker.errors

        client = docker.from_env()
        try:
            network = client.networks.get("bridge")
        finally:
            client.close()
    except Exception as exc:  # the SDK raises several unrelated types when no daemon answers
        raise RuntimeUnavailable(f"cannot ask Docker for its bridge network: {exc}") from exc
    for config in network.attrs.get("IPAM", {}).get("Config") or []:
        gateway = config.get("Gateway", "")
        if gateway and ":" not in gateway:
            return str(gateway)
    raise RuntimeUnavailable("Docker's bridge network has no IPv4 gateway address")


def instance_host(runtime_name: str) -> str:
    """The address the endpoint must listen on for instances of `runtime_name` to reach it."""
    if runtime_name == "docker":
        return docker_bridge_gateway()
    if runtime_name in ("process", "fake"):
        return LOOPBACK
    raise ValueError(f"unknown runtime {runtime_name!r}: expected docker, process or fake")


def instance_endpoint(runtime_name: str, root: Path, **creds: Any) -> OssEndpoint:
    """A started endpoint over `root` that instances of `runtime_name` can reach.

    `creds` are OssEndpoint's keyword arguments (access_key_id, access_key_secret).
    """
    endpoint = OssEndpoint(root, host=instance_host(runtime_name), port=0, **creds)
    endpoint.start()
    return endpoint
