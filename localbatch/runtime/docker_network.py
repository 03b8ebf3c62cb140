"""Where a container reaches this host: the Docker bridge's gateway address.

Endpoints that instances of the docker runtime must reach (the local OSS endpoint) listen
there, and only there: never on every interface.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

import psutil

from localbatch.runtime.base import RuntimeUnavailable


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
