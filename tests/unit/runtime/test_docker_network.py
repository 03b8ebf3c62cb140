"""Where a container reaches this host: the bridge gateway read from `network inspect`."""

from __future__ import annotations

from localbatch.runtime.docker_network import gateway_of


def test_gateway_from_inspect_output() -> None:
    ipam = {"IPAM": {"Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]}}
    assert gateway_of(ipam) == "172.18.0.1"
    no_gateway = {
        "IPAM": {"Config": [{"Subnet": "fd00::/64"}, {"Subnet": "10.7.0.0/16"}]},
        "Options": {"com.docker.network.bridge.name": "no-such-interface"},
    }
    assert gateway_of(no_gateway) == "10.7.0.1"
