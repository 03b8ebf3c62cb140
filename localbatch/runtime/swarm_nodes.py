"""The nodes of a swarm that may run instances, and what they hold (pure: the Engine API's
node documents in).

A node may run an instance when it is ready, its availability is active, and it matches
the placement constraints of `[swarm] constraints`, evaluated as Swarm evaluates them
(`node.id`, `node.hostname`, `node.role`, `node.platform.os|arch`, `node.labels.KEY`,
`engine.labels.KEY`; `==` or `!=`, case-insensitive; a label a node lacks matches only
`!=`). The capacity localbatch schedules against is what those nodes hold: their cores
and memory, as Swarm reports them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from localbatch.runtime.base import Node, RuntimeUnavailable

_CONSTRAINT = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*(?P<value>.*?)\s*$")


def node_name(node: Mapping[str, Any]) -> str:
    return str((node.get("Description") or {}).get("Hostname") or str(node.get("ID", ""))[:12])


def _facts(node: Mapping[str, Any], key: str) -> list[str] | None:
    """The values a constraint key has on a node; None when the node lacks it."""
    description = node.get("Description") or {}
    spec = node.get("Spec") or {}
    platform = description.get("Platform") or {}
    fixed = {
        "node.id": node.get("ID"),
        "node.hostname": description.get("Hostname"),
        "node.role": spec.get("Role"),
        "node.platform.os": platform.get("OS"),
        "node.platform.arch": platform.get("Architecture"),
    }
    if key in fixed:
        value = fixed[key]
        return None if value is None else [str(value)]
    for prefix, labels in (
        ("node.labels.", spec.get("Labels") or {}),
        ("engine.labels.", (description.get("Engine") or {}).get("Labels") or {}),
    ):
        if key.startswith(prefix):
            label = key[len(prefix) :]
            return [str(labels[label])] if label in labels else None
    return None


def matches(node: Mapping[str, Any], constraint: str) -> bool:
    """Whether the node satisfies one constraint as Swarm would judge it."""
    parsed = _CONSTRAINT.match(constraint)
    if parsed is None:
        return False
    values = _facts(node, parsed["key"])
    equal = values is not None and any(v.lower() == parsed["value"].lower() for v in values)
    return equal if parsed["op"] == "==" else not equal


def eligible(nodes: Iterable[Mapping[str, Any]], constraints: Iterable[str]) -> list[Node]:
    """The nodes instances may be placed on now, with the cores and memory they hold."""
    constraints = tuple(constraints)
    chosen = []
    for node in nodes:
        ready = (node.get("Status") or {}).get("State") == "ready"
        active = (node.get("Spec") or {}).get("Availability") == "active"
        if ready and active and all(matches(node, c) for c in constraints):
            resources = (node.get("Description") or {}).get("Resources") or {}
            chosen.append(
                Node(
                    name=node_name(node),
                    cpu_cores=int(resources.get("NanoCPUs", 0)) / 1e9,
                    memory_bytes=int(resources.get("MemoryBytes", 0)),
                )
            )
    return sorted(chosen, key=lambda n: n.name)


def describe(nodes: Iterable[Node]) -> str:
    """ "swarm of 2 nodes (a: 2 cores, 3.8 GiB; b: ...)" for notices, plan and the display."""
    nodes = list(nodes)
    if not nodes:
        return "swarm with no node that may run instances"
    each = "; ".join(
        f"{n.name}: {n.cpu_cores:g} cores, {n.memory_bytes / 2**30:.1f} GiB" for n in nodes
    )
    return f"swarm of {len(nodes)} node{'s' if len(nodes) > 1 else ''} ({each})"


def instance_address(advertised: str, bridge_gateway: Callable[[], str]) -> str:
    """Where the OSS endpoint for the instances listens: this manager's address in the
    swarm, which every node reaches. A swarm advertised on loopback is one machine: its
    containers reach this host on the Docker bridge, as with the Docker runtime. A public
    address is refused unless configured (`[swarm] advertise_address`)."""
    try:
        address = ipaddress.ip_address(advertised)
    except ValueError:
        raise RuntimeUnavailable(
            f"this manager's swarm address {advertised!r} is not an IP address: set "
            "[swarm] advertise_address to the address other nodes reach this host at"
        ) from None
    if address.is_loopback:
        return bridge_gateway()
    if address.is_global:
        raise RuntimeUnavailable(
            f"this manager's swarm address {advertised} is public, and the OSS endpoint for "
            "the instances would listen there: set [swarm] advertise_address to a private "
            "address of this host, or to this one to accept it"
        )
    return advertised
