"""The jobs endpoints on the fake runtime: codes, shapes, paging, idempotency, state rules."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localbatch.runtime.fake import FakeStep
from tests.unit.server.server_helpers import Api, make_body, start_api

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
Body = dict[str, Any]
METRIC_KEYS = {"WaitingCount", "RunningCount", "FinishedCount", "FailedCount", "StoppedCount"}


def test_create_run_and_read_a_job(api: Api, job_body: Callable[..., Body]) -> None:
    job_id = api.create(job_body())
    assert re.fullmatch(r"job-[0-9A-F]{32}", job_id)
    job = api.wait_state(job_id, "Finished")
    assert set(job) == {
        "Id", "Name", "Owner", "Priority", "State", "Message", "CreationTime", "StartTime",
        "EndTime", "TaskMetrics", "InstanceMetrics",
    }  # fmt: skip
    assert job["Name"] == "demo" and job["Priority"] == 1
    for key in ("CreationTime", "StartTime", "EndTime"):
        assert TIME.match(job[key]), job[key]
    assert job["TaskMetrics"] == dict.fromkeys(METRIC_KEYS, 0) | {"FinishedCount": 2}
    assert job["InstanceMetrics"]["FinishedCount"] == 3

    tasks = api.request("GET", f"/jobs/{job_id}/tasks?Marker&MaxItemCount=100")
    assert tasks.status == 200 and tasks.body["NextMarker"] == ""
    assert [t["TaskName"] for t in tasks.body["Items"]] == ["split", "merge"]
    assert set(tasks.body["Items"][0]["InstanceMetrics"]) == METRIC_KEYS

    instance = api.request("GET", f"/jobs/{job_id}/tasks/split/instances/1").body
    assert instance["InstanceId"] == 1 and instance["State"] == "Finished"
    assert instance["Result"] == {"ExitCode": 0, "ErrorCode": "", "ErrorMessage": "", "Detail": ""}
    assert instance["Error"] == {"Code": "", "Message": ""}
    assert instance["StdoutRedirectPath"] == f"oss://bucket/logs/stdout.{job_id}.split.1"
    assert instance["StderrRedirectPath"] == f"oss://bucket/logs/stderr.{job_id}.split.1"
    assert instance["Outputs"] == {} and instance["RetryCount"] == 0
    assert instance["Progress"] == 100 and TIME.match(instance["EndTime"])

    listed = api.request("GET", f"/jobs/{job_id}/tasks/split/instances?Marker&MaxItemCount=1")
    assert [i["InstanceId"] for i in listed.body["Items"]] == [0]
    assert listed.body["NextMarker"] == "1"


def test_description_echoes_the_submitted_body(api: Api, job_body: Callable[..., Body]) -> None:
    body = job_body()
    job_id = api.create(body)
    reply = api.request("GET", f"/jobs/{job_id}?description")
    assert reply.status == 200
    assert reply.body == {**body, "Notification": {}}


def test_list_jobs_pages_and_filters(api: Api, job_body: Callable[..., Body]) -> None:
    ids = [api.create(job_body(name=f"j{n}")) for n in range(5)]
    for job_id in ids:
        api.wait_state(job_id, "Finished")
    seen: list[str] = []
    marker = ""
    while True:
        page = api.request("GET", f"/jobs?Marker={marker}&MaxItemCount=2").body
        seen.extend(item["Id"] for item in page["Items"])
        marker = page["NextMarker"]
        if not marker:
            break
    assert seen == list(reversed(ids))
    assert api.request("GET", "/jobs?State=Running").body == {"Items": [], "NextMarker": ""}
    assert len(api.request("GET", "/jobs?State=Finished").body["Items"]) == 5
    bad = api.request("GET", "/jobs?State=Sleeping")
    assert (bad.status, bad.body["Code"]) == (403, "InvalidQueryString")
    both = api.request("GET", "/jobs?State=Running,Finished&OrderBy=CreationTime").body
    assert len(both["Items"]) == 5
    oldest = api.request("GET", "/jobs?IsReverse=True&MaxItemCount=1").body
    assert oldest["Items"][0]["Id"] == ids[0]
    assert api.request("GET", "/jobs?ProjectId=p-1").body == {"Items": [], "NextMarker": ""}
    bad = api.request("GET", "/jobs?OrderBy=Name")
    assert (bad.status, bad.body["Code"]) == (403, "InvalidQueryString")
    bad = api.request("GET", "/jobs?MaxItemCount=zero")
    assert (bad.status, bad.body["Code"]) == (403, "InvalidQueryString")


def test_idempotent_token(api: Api, job_body: Callable[..., Body]) -> None:
    first = api.create(job_body(), token="tok-1")
    assert api.create(job_body(), token="tok-1") == first
    other = api.request("POST", "/jobs?IdempotentToken=tok-1", job_body(name="changed"))
    assert other.status == 400 and other.body == {
        "Code": "IdempotentTokenMismatch",
        "Message": "Specified idempotent token mismatch.",
    }
    assert len(api.request("GET", "/jobs").body["Items"]) == 1


def test_validation_errors_are_the_validators_first(
    api: Api, job_body: Callable[..., Body]
) -> None:
    reply = api.request("POST", "/jobs", job_body(name="9bad", Priority=5000))
    assert reply.status == 400
    assert reply.body["Code"] == "InvalidName"
    assert reply.headers["x-acs-request-id"]
    reply = api.request("POST", "/jobs", raw=b"{not json")
    assert (reply.status, reply.body["Code"]) == (400, "InvalidJsonFormat")
    reply = api.request("POST", "/jobs", raw=b" " * (9 * 1024 * 1024))
    assert (reply.status, reply.body["Code"]) == (400, "InvalidHttpBody")
    reply = api.request("POST", "/jobs", raw=b"[1]")
    assert (reply.status, reply.body["Code"]) == (400, "InvalidHttpBody")


def test_stop_start_priority_delete_rules(api: Api, job_body: Callable[..., Body]) -> None:
    api.runtime.script("split", FakeStep(hang=True), instance=0)
    job_id = api.create(job_body())

    conflict = api.request("DELETE", f"/jobs/{job_id}")
    assert conflict.status == 409 and conflict.body["Code"] == "StateConflict"
    assert conflict.body["Message"].startswith("User operation is invalid.")
    assert api.request("PUT", f"/jobs/{job_id}", {"Priority": 9}).status == 409
    assert api.request("POST", f"/jobs/{job_id}/start").status == 409

    assert api.request("POST", f"/jobs/{job_id}/stop").status == 201
    job = api.wait_state(job_id, "Stopped")
    assert job["State"] == "Stopped"
    again = api.request("POST", f"/jobs/{job_id}/stop")
    assert again.body["Message"].endswith("The current resource state is Stopped.")

    bad = api.request("PUT", f"/jobs/{job_id}", {"Priority": 5000})
    assert (bad.status, bad.body["Code"]) == (400, "InvalidPriority")
    assert api.request("PUT", f"/jobs/{job_id}", {"Priority": 9}).status == 200
    assert api.request("GET", f"/jobs/{job_id}").body["Priority"] == 9

    api.runtime.script("split", FakeStep(exit_code=0), instance=0)
    assert api.request("POST", f"/jobs/{job_id}/start").status == 201
    job = api.wait_state(job_id, "Finished")
    assert job["Priority"] == 9

    assert api.request("DELETE", f"/jobs/{job_id}").status == 204
    gone = api.request("GET", f"/jobs/{job_id}")
    assert (gone.status, gone.body["Code"]) == (404, "InvalidResource.NotFound")


def test_start_reruns_only_unfinished_instances(api: Api, job_body: Callable[..., Body]) -> None:
    api.runtime.script("split", FakeStep(exit_code=3), instance=1)
    job_id = api.create(job_body(instances=3))
    api.wait_state(job_id, "Failed")
    started_before = len(api.runtime.started)
    api.runtime.script("split", FakeStep(exit_code=0), instance=1)
    assert api.request("POST", f"/jobs/{job_id}/start").status == 201
    api.wait_state(job_id, "Finished")
    rerun = [(s.task_name, s.instance_id) for s in api.runtime.started[started_before:]]
    assert ("split", 0) not in rerun and ("split", 1) in rerun and ("merge", 0) in rerun


def test_auto_release_deletes_a_finished_job(api: Api, job_body: Callable[..., Body]) -> None:
    job_id = api.create(job_body(AutoRelease=True))
    api.stack.engine.wait(job_id, timeout=30)
    assert api.request("GET", f"/jobs/{job_id}").status == 404


def test_higher_priority_runs_first(tmp_path: Path) -> None:
    api = start_api(tmp_path, max_parallel=1)
    try:
        gate = threading.Event()
        api.runtime.script("only", FakeStep(gate=gate))
        blocker = api.create(_one_task_body("blocker", 0))
        low = api.create(_one_task_body("low", 1))
        high = api.create(_one_task_body("high", 900))
        api.runtime.script("only", FakeStep(exit_code=0))
        gate.set()
        for job_id in (blocker, low, high):
            api.wait_state(job_id, "Finished")
        assert [spec.job_id for spec in api.runtime.started] == [blocker, high, low]
    finally:
        api.stack.close()


def _one_task_body(name: str, priority: int) -> Body:
    body = make_body(name=name, instances=1, Priority=priority)
    body["DAG"] = {"Tasks": {"only": body["DAG"]["Tasks"]["split"]}, "Dependencies": {}}
    return body


def test_a_job_the_engine_refuses_leaves_no_record(
    api: Api, job_body: Callable[..., Body], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("engine broken")

    monkeypatch.setattr(api.stack.engine, "submit", refuse)
    reply = api.request("POST", "/jobs", job_body())
    assert reply.status == 500 and reply.body["Code"] == "InternalError"
    assert "engine broken" not in reply.body["Message"]  # no internals leak
    assert api.request("GET", "/jobs").body["Items"] == []
