"""Everything beside jobs: quotas, resources, images, clusters, unknown routes, headers."""

from __future__ import annotations

import pytest

from localbatch.server.stack import ServerRunning, start_stack
from tests.unit.server.server_helpers import Api


def test_quotas_and_available_resources(api: Api) -> None:
    quotas = api.request("GET", "/quotas").body
    assert "ecs.sn1.medium" in quotas["AvailableClusterInstanceType"]
    assert set(quotas) == {
        "AvailableClusterInstanceType",
        "AvailableSpotInstanceType",
        "AvailableClusterInstanceSystemDiskType",
        "AvailableClusterInstanceDataDiskType",
        "AvailableClusterResourceType",
    }
    available = api.request("GET", "/available").body
    for item in available["AvailableClusterInstanceType"]:
        assert set(item) == {"InstanceType", "CpuCore", "MemorySize", "Network"}


def test_images_map_ids_to_docker_images(api: Api) -> None:
    listed = api.request("GET", "/images").body
    assert listed["NextMarker"] == ""
    assert {i["Id"] for i in listed["Items"]} >= {"img-ubuntu"}
    one = api.request("GET", "/images/img-ubuntu")
    assert one.status == 200 and "localbatch/" in one.body["Description"]
    assert api.request("GET", "/images/img-nope").status == 404


def test_clusters_of_an_empty_config(api: Api) -> None:
    assert api.request("GET", "/clusters").body == {"Items": [], "NextMarker": ""}
    missing = api.request("GET", "/clusters/cls-x")
    assert (missing.status, missing.body["Code"]) == (404, "InvalidResource.NotFound")


def test_unknown_routes_methods_and_versions(api: Api) -> None:
    reply = api.request("GET", "/nothing/here")
    assert (reply.status, reply.body["Code"]) == (400, "InvalidUrlPattern")
    assert reply.headers["x-acs-request-id"]
    reply = api.request("PATCH", "/jobs")
    assert (reply.status, reply.body["Code"]) == (400, "MethodNotAllowed")
    reply = api.request("GET", "/jobs", headers={"x-acs-version": "2099-01-01"})
    assert (reply.status, reply.body["Code"]) == (403, "InvalidVersion.NotFound")
    reply = api.request("GET", "/jobs/job-00000000000000000000000000000000/tasks")
    assert (reply.status, reply.body["Code"]) == (404, "InvalidResource.NotFound")
    ids = {api.request("GET", "/quotas").headers["x-acs-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_one_server_per_state_dir(api: Api) -> None:
    runtime = api.runtime
    with pytest.raises(ServerRunning, match="serves this state dir"):
        start_stack(api.stack.config, runtime, port=0, oss_port=None)
