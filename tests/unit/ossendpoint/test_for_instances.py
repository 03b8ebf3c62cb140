"""The endpoint instances reach: where it listens, and that it takes any worker's keys."""

from __future__ import annotations

import logging
from pathlib import Path

import oss2
import pytest

from localbatch.ossendpoint.for_instances import gateway_of, instance_endpoint, instance_host
from localbatch.ossendpoint.server import OssEndpoint


def test_instance_hosts() -> None:
    assert instance_host("process") == "127.0.0.1"
    assert instance_host("fake") == "127.0.0.1"
    with pytest.raises(ValueError):
        instance_host("vm")


def test_gateway_from_inspect_output() -> None:
    ipam = {"IPAM": {"Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]}}
    assert gateway_of(ipam) == "172.18.0.1"
    no_gateway = {
        "IPAM": {"Config": [{"Subnet": "fd00::/64"}, {"Subnet": "10.7.0.0/16"}]},
        "Options": {"com.docker.network.bridge.name": "no-such-interface"},
    }
    assert gateway_of(no_gateway) == "10.7.0.1"


def test_workers_signing_with_their_own_cloud_keys_are_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "bkt").mkdir()
    caplog.set_level(logging.WARNING, logger="localbatch.ossendpoint.for_instances")
    with instance_endpoint("process", tmp_path, access_key_id="api-id") as endpoint:
        assert endpoint.host == "127.0.0.1" and not endpoint.verifies_signatures
        worker = oss2.Bucket(oss2.Auth("LTAIcloudkey", "cloud-secret"), endpoint.url, "bkt")
        worker.put_object("out/result.txt", b"42")
        assert worker.get_object("out/result.txt").read() == b"42"
    (line,) = [r.getMessage() for r in caplog.records if r.name.endswith("for_instances")]
    assert "accepts any signature, not only AccessKeyId api-id" in line
    assert "listens on 127.0.0.1 only" in line


def test_the_same_request_is_refused_by_a_verifying_endpoint(tmp_path: Path) -> None:
    """What oss-serve does with configured keys: the contrast the decision is about."""
    (tmp_path / "bkt").mkdir()
    with OssEndpoint(tmp_path, access_key_id="api-id", access_key_secret="api-secret") as endpoint:
        worker = oss2.Bucket(oss2.Auth("LTAIcloudkey", "cloud-secret"), endpoint.url, "bkt")
        with pytest.raises(oss2.exceptions.ServerError) as refused:
            worker.put_object("out/result.txt", b"42")
    assert refused.value.code == "InvalidAccessKeyId"


def test_no_configured_keys_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="localbatch.ossendpoint")
    with instance_endpoint("fake", tmp_path):
        pass
    # Exactly one notice, the instance endpoint's own: never two that contradict each other.
    notices = [r.getMessage() for r in caplog.records if "accepts any" in r.getMessage()]
    assert len(notices) == 1
    assert "no credentials are configured" in notices[0]
    assert "127.0.0.1 only" in notices[0]
