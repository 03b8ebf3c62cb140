"""The official Python SDK (batchcompute 2.1.7) against a real `localbatch serve` stack.

The server runs in this process on 127.0.0.1 with the fake runtime (so every state can be
reached quickly); the SDK talks to it over HTTP exactly as it talks to the service.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localbatch.runtime.fake import FakeStep
from tests.integration.serve_process import ServeProcess
from tests.unit.server.server_helpers import Api, start_api, start_signed_api

batchcompute = pytest.importorskip("batchcompute")
from batchcompute import Client, ClientError  # noqa: E402
from batchcompute.resources import (  # noqa: E402
    DAG,
    AutoCluster,
    JobDescription,
    TaskDescription,
)

pytestmark = pytest.mark.clients

AK, SK = "sdk-test-key", "sdk-test-secret"


def _client(api: Api, key: str = AK, secret: str = SK) -> Any:
    Client.register_region("local", "127.0.0.1", api.stack.api.port)
    return Client("127.0.0.1", key, secret)


def _task(command: str, instances: int) -> Any:
    task = TaskDescription()
    task.Parameters.Command.CommandLine = command
    task.Parameters.Command.PackagePath = ""
    task.Parameters.StdoutRedirectPath = "oss://bucket/logs/"
    task.Parameters.StderrRedirectPath = "oss://bucket/logs/"
    task.InstanceCount = instances
    task.Timeout = 600
    cluster = AutoCluster()
    cluster.ImageId = "img-ubuntu"
    cluster.InstanceType = "ecs.sn1.medium"
    task.AutoCluster = cluster
    return task


def _job(name: str = "sdk-job", instances: int = 2) -> Any:
    dag = DAG()
    dag.add_task(task_name="split", task=_task("python split.py", instances))
    dag.add_task(task_name="merge", task=_task("python merge.py", 1))
    dag.Dependencies = {"split": ["merge"]}
    job = JobDescription()
    job.Name = name
    job.Priority = 5
    job.JobFailOnInstanceFail = True
    job.DAG = dag
    return job


@pytest.fixture
def signed_api(tmp_path: Path) -> Iterator[Api]:
    started = start_signed_api(tmp_path, AK, SK)
    yield started
    started.stack.close()


def test_multi_task_job_runs_and_reads_back(signed_api: Api, tmp_path: Path) -> None:
    signed_api.runtime.script("split", FakeStep(exit_code=0, stdout="hello from split\n"))
    client = _client(signed_api)
    job_id = client.create_job(_job()).Id
    assert signed_api.stack.engine.wait(job_id, timeout=30) is not None

    job = client.get_job(job_id)
    assert job.State == "Finished" and job.Name == "sdk-job" and job.Priority == 5
    assert job.TaskMetrics.FinishedCount == 2
    assert job.InstanceMetrics.FinishedCount == 3
    assert job.StartTime is not None and job.EndTime is not None

    tasks = client.list_tasks(job_id, "", 100)
    assert sorted(t.TaskName for t in tasks.Items) == ["merge", "split"]
    assert tasks.NextMarker == ""
    assert client.get_task(job_id, "split").InstanceMetrics.FinishedCount == 2

    instances = client.list_instances(job_id, "split", "", 100).Items
    assert [i.InstanceId for i in instances] == [0, 1]
    first = client.get_instance(job_id, "split", 0)
    assert first.Result.ExitCode == 0 and first.State == "Finished"
    stdout = first.StdoutRedirectPath
    assert stdout == f"oss://bucket/logs/stdout.{job_id}.split.0"
    local = tmp_path / "oss" / stdout.removeprefix("oss://")
    assert local.read_text() == "hello from split\n"

    description = client.get_job_description(job_id)
    assert description.Name == "sdk-job"
    assert sorted(description.DAG.Tasks) == ["merge", "split"]
    assert job_id in [j.Id for j in client.list_jobs("", 100).Items]


def test_failed_instance_reports_its_result(signed_api: Api) -> None:
    signed_api.runtime.script("split", FakeStep(exit_code=7), instance=1)
    client = _client(signed_api)
    job_id = client.create_job(_job()).Id
    signed_api.stack.engine.wait(job_id, timeout=30)
    assert client.get_job(job_id).State == "Failed"
    failed = client.get_instance(job_id, "split", 1)
    assert failed.State == "Failed" and failed.Result.ExitCode == 7


def test_stop_start_priority_delete_and_their_409s(signed_api: Api) -> None:
    signed_api.runtime.script("split", FakeStep(hang=True), instance=0)
    client = _client(signed_api)
    job_id = client.create_job(_job()).Id

    for call in (
        lambda: client.delete_job(job_id),
        lambda: client.start_job(job_id),
        lambda: client.change_job_priority(job_id, 9),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.get_status_code() == 409
        assert raised.value.get_code() == "StateConflict"

    client.stop_job(job_id)
    signed_api.stack.engine.wait(job_id, timeout=30)
    assert client.get_job(job_id).State == "Stopped"
    with pytest.raises(ClientError) as raised:
        client.stop_job(job_id)
    assert raised.value.get_code() == "StateConflict"

    client.change_job_priority(job_id, 9)
    assert client.get_job(job_id).Priority == 9

    signed_api.runtime.script("split", FakeStep(exit_code=0), instance=0)
    client.start_job(job_id)
    signed_api.stack.engine.wait(job_id, timeout=30)
    assert client.get_job(job_id).State == "Finished"

    client.delete_job(job_id)
    with pytest.raises(ClientError) as raised:
        client.get_job(job_id)
    assert raised.value.get_status_code() == 404


def test_validation_errors_arrive_as_client_error_codes(signed_api: Api) -> None:
    client = _client(signed_api)
    job = _job()
    job.DAG.Tasks["split"].Parameters.StdoutRedirectPath = "/not/oss/"
    with pytest.raises(ClientError) as raised:
        client.create_job(job)
    assert raised.value.get_status_code() == 400
    assert raised.value.get_code() == "InvalidStdoutRedirectPath"
    assert raised.value.get_requestid()


def test_idempotent_token_through_the_sdk(signed_api: Api) -> None:
    client = _client(signed_api)
    first = client.create_job(_job(), "token-1").Id
    assert client.create_job(_job(), "token-1").Id == first
    with pytest.raises(ClientError) as raised:
        client.create_job(_job(name="other"), "token-1")
    assert raised.value.get_code() == "IdempotentTokenMismatch"


def test_wrong_credentials_are_forbidden(signed_api: Api) -> None:
    for key, secret in ((AK, "wrong-secret"), ("other-key", SK)):
        with pytest.raises(ClientError) as raised:
            _client(signed_api, key, secret).list_jobs("", 10)
        assert raised.value.get_status_code() == 403
        assert raised.value.get_code() == "Forbidden"
        assert SK not in raised.value.get_msg()


def test_quotas_and_available_resources(signed_api: Api) -> None:
    client = _client(signed_api)
    assert "ecs.sn1.medium" in client.get_quotas().AvailableClusterInstanceType
    resources = client.get_available_resource()
    for item in resources.AvailableClusterInstanceType:
        assert item.CpuCore >= 1


# -- against a real `localbatch serve` process running real programs ------------------------


@pytest.fixture(
    params=[
        pytest.param("process", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
    ]
)
def real_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServeProcess]:
    if request.param == "docker":
        request.getfixturevalue("default_image")
    else:
        request.getfixturevalue("default_rootfs")
    server = ServeProcess(
        tmp_path / "state",
        runtime=request.param,
        env={"LOCALBATCH_ACCESS_KEY_ID": AK, "LOCALBATCH_ACCESS_KEY_SECRET": SK},
    )
    try:
        yield server
    finally:
        code = server.terminate()
    assert code == 0, "".join(server.lines)


def _poll(client: Any, job_id: str, timeout: float = 180.0) -> Any:
    """What SDK users do (client.poll sleeps 3 s a turn): ask until a terminal state."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_job(job_id)
        if job.State in ("Finished", "Failed", "Stopped"):
            return job
        assert time.monotonic() < deadline, f"{job_id} still {job.State}"
        time.sleep(0.2)


def test_real_programs_through_a_serve_process(real_server: ServeProcess, tmp_path: Path) -> None:
    port = int(real_server.url.rsplit(":", 1)[1])
    Client.register_region("local", "127.0.0.1", port)
    client = Client("127.0.0.1", AK, SK)
    job = _job(instances=2)
    job.DAG.Tasks[
        "split"
    ].Parameters.Command.CommandLine = (
        "sh -c 'echo split-$BATCH_COMPUTE_DAG_INSTANCE_ID-of-$BATCH_COMPUTE_DAG_JOB_ID'"
    )
    job.DAG.Tasks["merge"].Parameters.Command.CommandLine = "sh -c 'echo oops >&2; exit 4'"
    job_id = client.create_job(job).Id

    final = _poll(client, job_id)
    assert final.State == "Failed"
    split = client.get_task(job_id, "split")
    assert split.State == "Finished" and split.InstanceMetrics.FinishedCount == 2
    merge = client.get_instance(job_id, "merge", 0)
    assert merge.State == "Failed" and merge.Result.ExitCode == 4
    for instance in client.list_instances(job_id, "split", "", 100).Items:
        stdout = instance.StdoutRedirectPath.removeprefix("oss://")
        text = (tmp_path / "oss" / stdout).read_text()
        assert text == f"split-{instance.InstanceId}-of-{job_id}\n"
    stderr = merge.StderrRedirectPath.removeprefix("oss://")
    assert (tmp_path / "oss" / stderr).read_text() == "oops\n"


def test_images_and_clusters_from_the_config(tmp_path: Path) -> None:
    config_file = tmp_path / "none.toml"
    config_file.write_text(
        '[clusters.cls-local]\nimage_id = "img-ubuntu"\ninstance_type = "ecs.sn1.large"\n'
    )
    api = start_api(tmp_path)  # reads tmp_path / "none.toml"
    try:
        client = _client(api)
        clusters = client.list_clusters("", 100).Items
        assert [c.Id for c in clusters] == ["cls-local"]
        cluster = client.get_cluster("cls-local")
        assert cluster.InstanceType == "ecs.sn1.large" and cluster.State == "Active"
        images = client.list_images("", 100).Items
        assert "img-ubuntu" in [i.Id for i in images]
        assert client.get_image("img-ubuntu").Platform == "Linux"
        with pytest.raises(ClientError) as raised:
            client.get_cluster("cls-nope")
        assert raised.value.get_status_code() == 404
    finally:
        api.stack.close()
