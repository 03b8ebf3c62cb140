"""A job the cluster runtime cannot run is refused before anything starts, and leaves no
record: the API answers the field at fault (InstanceType) or the cluster's reason."""

from __future__ import annotations

import pytest

from localbatch.application.stack import open_local_service
from localbatch.config import Config
from localbatch.runtime.base import JobRefused
from localbatch.runtime.fake import FakeStep
from localbatch.spec.errors import ApiError
from localbatch.states import State
from tests.unit.runtime.cluster_fake import ClusterFake
from tests.unit.server.server_helpers import make_body


def test_a_type_no_node_holds_is_an_invalid_instance_type(config: Config) -> None:
    runtime = ClusterFake()
    local = open_local_service(config, runtime, oss_port=None)
    body = make_body()
    body["DAG"]["Tasks"]["merge"]["AutoCluster"]["InstanceType"] = "bcs.b4.5xlarge"
    try:
        with pytest.raises(ApiError) as refused:
            local.service.create(body)
        assert (refused.value.http_status, refused.value.code) == (400, "InvalidInstanceType")
        assert "larger than every node of the cluster of 2 nodes" in refused.value.message
        assert local.store.job_count() == 0 and runtime.started == []
    finally:
        local.close()


def test_a_node_that_does_not_see_the_files_is_the_clusters_error(config: Config) -> None:
    runtime = ClusterFake()
    runtime.refuse = "node b has no directory /srv/state/jobs"
    local = open_local_service(config, runtime, oss_port=None)
    try:
        with pytest.raises(ApiError) as refused:
            local.service.create(make_body())
        assert (refused.value.http_status, refused.value.code) == (409, "ClusterCannotRun")
        assert refused.value.message == "node b has no directory /srv/state/jobs"
        assert local.store.job_count() == 0
    finally:
        local.close()


def test_a_restart_the_cluster_refuses_fails_the_job_with_the_reason(config: Config) -> None:
    runtime = ClusterFake(FakeStep(exit_code=1))
    local = open_local_service(config, runtime, oss_port=None)
    try:
        job_id = local.service.create(make_body())
        assert local.engine is not None and local.engine.wait(job_id, 30) == State.FAILED
        runtime.refuse = "node a does not have the image img"
        with pytest.raises(JobRefused):
            local.service.start(job_id)
        record = local.service.job(job_id)
        assert record.state == State.FAILED
        assert "node a does not have the image img" in record.message
    finally:
        local.close()
