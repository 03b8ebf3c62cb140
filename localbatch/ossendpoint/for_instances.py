"""An endpoint that a job's instances can reach, for the runtime that runs them.

A container reaches the host through the Docker bridge's gateway address, so for the
docker runtime the endpoint listens there (and only there: never on every interface). A
process or sandbox shares the host's loopback, so 127.0.0.1 serves it. The engine sets
`BATCH_COMPUTE_OSS_HOST` and `OSS_ENDPOINT` to `endpoint.address` (`host:port`).

Decided: this endpoint accepts any signature, even when API credentials are configured.
Worker code signs with the cloud keys it carries (in its EnvVars or package), which the
local endpoint cannot know; checking them would refuse every real worker. What keeps it
private is where it listens: loopback or the Docker bridge only. `localbatch oss-serve`,
the endpoint for people and tools, keeps verifying when credentials are configured.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from localbatch.ossendpoint.server import OssEndpoint
from localbatch.runtime.base import RuntimeUnavailable

log = logging.getLogger(__name__)

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
    return gateway_of(network.attrs)


def gateway_of(attrs: Mapping[str, Any]) -> str:
    """The IPv4 gateway of a network as `docker network inspect` describes it.

    Recent engines leave `Gateway` out of the default bridge's IPAM config; the address is
    then the one of the bridge's host interface (`docker0`), else the subnet's first host.
    """
    all_configs = (attrs.get("IPAM") or {}).get("Config") or []
    configs = [c for c in all_configs if ":" not in c.get("Subnet", "")]  # IPv4 only
    for config in configs:
        if config.get("Gateway"):
            return str(config["Gateway"])
    interface = (attrs.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
    for address in psutil.net_if_addrs().get(interface, []):
        if address.family == socket.AF_INET:
            return str(address.address)
    for config in configs:
        if config.get("Subnet"):
            return str(next(ipaddress.ip_network(config["Subnet"], strict=False).hosts()))
    raise RuntimeUnavailable("Docker's bridge network has no IPv4 gateway address")


def instance_host(runtime_name: str) -> str:
    """The address the endpoint must listen on for instances of `runtime_name` to reach it."""
    if runtime_name == "docker":
        return docker_bridge_gateway()
    if runtime_name in ("process", "fake"):
        return LOOPBACK
    raise ValueError(f"unknown runtime {runtime_name!r}: expected docker, process or fake")


def instance_endpoint(runtime_name: str, root: Path, *, access_key_id: str = "") -> OssEndpoint:
    """A started endpoint over `root` that instances of `runtime_name` can reach.

    It accepts any signature (module docstring). The configured API key id is taken only to
    say so when they are set: a user who configured them must not believe instances are
    held to them.
    """
    endpoint = OssEndpoint(root, host=instance_host(runtime_name), port=0, announce_open=False)
    endpoint.start()
    if not access_key_id:
        log.warning(
            "OSS endpoint for instances: %s over %s; accepts any request (no credentials are "
            "configured); listens on %s only",
            endpoint.url,
            root,
            endpoint.host,
        )
    else:
        log.warning(
            "OSS endpoint for instances: %s over %s; accepts any signature, not only "
            "AccessKeyId %s (worker code signs with its own cloud keys); listens on %s only",
            endpoint.url,
            root,
            access_key_id,
            endpoint.host,
        )
    return endpoint
