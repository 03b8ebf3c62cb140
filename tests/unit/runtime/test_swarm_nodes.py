"""Which nodes may run instances (ready, active, matching the constraints as Swarm judges
them), what they hold, and where instances reach the manager."""

from __future__ import annotations

from typing import Any

import pytest

from localbatch.runtime.base import Node, RuntimeUnavailable
from localbatch.runtime.swarm_nodes import describe, eligible, instance_address, matches


def node(
    name: str,
    *,
    cores: float = 4,
    gib: float = 8,
    state: str = "ready",
    availability: str = "active",
    labels: dict[str, str] | None = None,
    role: str = "worker",
) -> Any:
    return {
        "ID": f"id-{name}",
        "Description": {
            "Hostname": name,
            "Platform": {"OS": "linux", "Architecture": "x86_64"},
            "Resources": {"NanoCPUs": int(cores * 1e9), "MemoryBytes": int(gib * 2**30)},
            "Engine": {"Labels": {"disk": "ssd"}},
        },
        "Spec": {"Availability": availability, "Role": role, "Labels": labels or {}},
        "Status": {"State": state},
    }


def test_ready_active_nodes_with_their_cores_and_memory() -> None:
    nodes = [node("b", cores=2, gib=4), node("a"), node("down", state="down")]
    nodes.append(node("drained", availability="drain"))
    assert eligible(nodes, ()) == [Node("a", 4.0, 8 * 2**30), Node("b", 2.0, 4 * 2**30)]


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("node.labels.batch==yes", True),
        ("node.labels.batch == YES", True),  # Swarm compares without case
        ("node.labels.batch!=yes", False),
        ("node.labels.gpu==1", False),
        ("node.labels.gpu!=1", True),  # a label the node lacks matches only !=
        ("node.role==worker", True),
        ("node.hostname!=a", False),
        ("node.platform.os==linux", True),
        ("engine.labels.disk==ssd", True),
        ("node.id==id-a", True),
        ("nonsense", False),
    ],
)
def test_constraints_match_as_swarm_judges_them(constraint: str, expected: bool) -> None:
    assert matches(node("a", labels={"batch": "yes"}), constraint) is expected


def test_only_nodes_matching_every_constraint_are_eligible() -> None:
    nodes = [node("a", labels={"batch": "yes"}), node("b"), node("c", role="manager")]
    chosen = eligible(nodes, ("node.labels.batch==yes", "node.role==worker"))
    assert [n.name for n in chosen] == ["a"]


def test_the_description_names_each_node() -> None:
    text = describe([Node("a", 4, 8 * 2**30), Node("b", 2, 2**30)])
    assert text == "swarm of 2 nodes (a: 4 cores, 8.0 GiB; b: 2 cores, 1.0 GiB)"
    assert "no node" in describe([])


def test_instances_reach_the_managers_private_address() -> None:
    assert instance_address("10.0.0.5", lambda: "172.17.0.1") == "10.0.0.5"


def test_a_loopback_swarm_is_one_machine_reached_on_the_bridge() -> None:
    assert instance_address("127.0.0.1", lambda: "172.17.0.1") == "172.17.0.1"


def test_a_public_address_is_refused_unless_configured() -> None:
    with pytest.raises(RuntimeUnavailable, match="is public"):
        instance_address("8.8.8.8", lambda: "172.17.0.1")
    with pytest.raises(RuntimeUnavailable, match="not an IP address"):
        instance_address("manager.example", lambda: "172.17.0.1")
