"""The endpoint instances reach: where it listens, and that it takes any worker's keys."""

from __future__ import annotations

import logging
from pathlib import Path

import oss2
import pytest

from localbatch.ossendpoint.for_instances import instance_endpoint
from localbatch.ossendpoint.server import OssEndpoint


def test_workers_signing_with_their_own_cloud_keys_are_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "bkt").mkdir()
    caplog.set_level(logging.WARNING, logger="localbatch.ossendpoint.for_instances")
    with instance_endpoint("127.0.0.1", tmp_path, access_key_id="api-id") as endpoint:
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
    with instance_endpoint("127.0.0.1", tmp_path):
        pass
    # Exactly one notice, the instance endpoint's own: never two that contradict each other.
    notices = [r.getMessage() for r in caplog.records if "accepts any" in r.getMessage()]
    assert len(notices) == 1
    assert "no credentials are configured" in notices[0]
    assert "127.0.0.1 only" in notices[0]
