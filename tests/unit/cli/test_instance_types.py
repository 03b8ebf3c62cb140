"""`localbatch instance-types`: the table, and the sizes the engine would give on this host."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from localbatch.cli import main
from localbatch.engine.capacity import HostCapacity
from localbatch.spec.instance_types import GIB, INSTANCE_TYPES

HOST = HostCapacity(cpu_cores=4.0, memory_bytes=16 * GIB)


@pytest.fixture(autouse=True)
def fixed_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(HostCapacity, "detect", classmethod(lambda cls, max_parallel=None: HOST))


def test_json_lists_every_type_with_its_size_here() -> None:
    result = CliRunner().invoke(main, ["instance-types", "--json"])
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert listed["Host"] == {"CpuCores": 4, "MemoryGiB": 16}
    by_name = {item["Name"]: item for item in listed["InstanceTypes"]}
    assert list(by_name) == list(INSTANCE_TYPES)
    assert by_name["ecs.sn1.medium"] == {
        "Name": "ecs.sn1.medium",
        "CpuCores": 2,
        "MemoryGiB": 4,
        "Here": {"CpuCores": 2, "MemoryGiB": 4},
        "ScaledDown": False,
        "AtOnce": 2,
    }
    assert by_name["bcs.b4.xlarge"]["Here"] == {"CpuCores": 4, "MemoryGiB": 16}
    assert by_name["bcs.b4.xlarge"]["ScaledDown"] is True
    assert by_name["bcs.b4.xlarge"]["AtOnce"] == 1
    assert by_name["ecs.sn2ne.large"]["AtOnce"] == 2  # 8 GiB each: memory decides


def test_table() -> None:
    lines = CliRunner().invoke(main, ["instance-types"]).stdout.splitlines()
    assert lines[0] == "this host: 4 cores, 16.0 GiB"
    assert lines[1].split() == ["INSTANCE", "TYPE", "CORES", "MEMORY", "AT", "ONCE", "HERE"]
    assert "ecs.sn1.medium        2    4 GiB        2  as is" in lines
    assert "bcs.b4.xlarge         8   32 GiB        1  4 cores, 16.0 GiB" in lines
