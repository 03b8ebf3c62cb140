"""api-wire.md, claim by claim, against the real server on the fake runtime.

Each test names the claim it proves. Shapes are checked key by key with their wire types,
because the official clients read a missing field as `{}` and raise on a wrong type.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from localbatch.runtime.fake import FakeStep
from localbatch.timefmt import api_time
from tests.conformance.conftest import Serve
from tests.unit.server.server_helpers import Api, make_body

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
METRICS = {"WaitingCount", "RunningCount", "FinishedCount", "FailedCount", "StoppedCount"}
Body = dict[str, Any]


def _time_or_unset(value: Any, unset: bool) -> None:
    assert value == "" if unset else TIME.match(value), value


def test_times_are_utc_with_the_fraction_and_unset_is_empty() -> None:
    """Times: "%Y-%m-%dT%H:%M:%S.%fZ" in UTC with the fraction; an unset time is ""."""
    assert api_time(1_700_000_000.123456) == "2023-11-14T22:13:20.123456Z"
    assert api_time(0) == "1970-01-01T00:00:00.000000Z"
    assert api_time(None) == ""


def _metrics(value: Any) -> None:
    assert set(value) == METRICS and all(type(n) is int for n in value.values()), value


# -- endpoints and their success codes ------------------------------------------------


def test_each_call_answers_its_documented_status(api: Api) -> None:
    """CreateJob 201 {Id}; GetJob 200; Stop/Start 201; ChangeJobPriority 200; Delete 204."""
    api.runtime.script("split", FakeStep(hang=True), instance=0)
    created = api.request("POST", "/jobs", make_body())
    assert created.status == 201 and set(created.body) == {"Id"}
    job_id = created.body["Id"]
    assert re.fullmatch(r"job-[0-9A-F]{32}", job_id)
    assert api.request("GET", f"/jobs/{job_id}").status == 200
    assert api.request("POST", f"/jobs/{job_id}/stop").status == 201
    assert api.request("PUT", f"/jobs/{job_id}", {"Priority": 7}).status == 200
    api.runtime.script("split", FakeStep(), instance=0)
    assert api.request("POST", f"/jobs/{job_id}/start").status == 201
    api.wait_state(job_id, "Finished")
    deleted = api.request("DELETE", f"/jobs/{job_id}")
    assert deleted.status == 204 and deleted.body is None
    assert deleted.headers["x-acs-request-id"]
    for target in ("/jobs", "/quotas", "/available", "/images", "/clusters"):
        assert api.request("GET", target).status == 200, target


# -- response bodies --------------------------------------------------------------------


def test_job_task_and_instance_bodies_have_every_field_with_its_type(api: Api) -> None:
    """Job, Task and Instance bodies: every field present, times in the format or ""."""
    gate = threading.Event()
    api.runtime.script("split", FakeStep(gate=gate), instance=0)
    job_id = api.create(make_body())
    api.runtime.wait_running(1)

    job = api.request("GET", f"/jobs/{job_id}").body
    assert set(job) == {
        "Id", "Name", "State", "Message", "Owner", "Priority", "CreationTime", "StartTime",
        "EndTime", "TaskMetrics", "InstanceMetrics",
    }  # fmt: skip
    for key in ("Id", "Name", "State", "Message", "Owner"):
        assert type(job[key]) is str, key
    assert type(job["Priority"]) is int
    _time_or_unset(job["CreationTime"], unset=False)
    _time_or_unset(job["EndTime"], unset=True)  # not ended yet
    _metrics(job["TaskMetrics"])
    _metrics(job["InstanceMetrics"])

    waiting_task = api.request("GET", f"/jobs/{job_id}/tasks/merge").body
    assert set(waiting_task) == {"TaskName", "State", "StartTime", "EndTime", "InstanceMetrics"}
    assert waiting_task["State"] == "Waiting"
    _time_or_unset(waiting_task["StartTime"], unset=True)
    _time_or_unset(waiting_task["EndTime"], unset=True)
    _metrics(waiting_task["InstanceMetrics"])

    waiting = api.request("GET", f"/jobs/{job_id}/tasks/merge/instances/0").body
    assert set(waiting) == {
        "InstanceId", "State", "StartTime", "EndTime", "RetryCount", "Progress", "NodeIp",
        "StdoutRedirectPath", "StderrRedirectPath", "Result", "Error", "Outputs",
    }  # fmt: skip
    assert type(waiting["InstanceId"]) is int and type(waiting["RetryCount"]) is int
    assert isinstance(waiting["Progress"], int | float) and type(waiting["NodeIp"]) is str
    _time_or_unset(waiting["StartTime"], unset=True)
    assert set(waiting["Result"]) == {"ExitCode", "ErrorCode", "ErrorMessage", "Detail"}
    assert waiting["Result"]["ExitCode"] is None  # never ran: null, not 0
    assert set(waiting["Error"]) == {"Code", "Message"} and waiting["Outputs"] == {}

    gate.set()
    api.wait_state(job_id, "Finished")
    ended = api.request("GET", f"/jobs/{job_id}/tasks/merge/instances/0").body
    assert type(ended["Result"]["ExitCode"]) is int and ended["Result"]["ExitCode"] == 0
    for key in ("StartTime", "EndTime"):
        _time_or_unset(ended[key], unset=False)


def test_exit_code_is_the_programs_and_retry_count_the_retries_used(api: Api) -> None:
    """Result.ExitCode int from the program; RetryCount = retries used (attempts - 1)."""
    api.runtime.script("split", FakeStep(exit_code=3), instance=1)
    body = make_body()
    body["DAG"]["Tasks"]["split"]["MaxRetryCount"] = 2
    job_id = api.create(body)
    api.wait_state(job_id, "Failed")
    failed = api.request("GET", f"/jobs/{job_id}/tasks/split/instances/1").body
    assert failed["State"] == "Failed" and failed["RetryCount"] == 2
    assert failed["Result"]["ExitCode"] == 3
    attempts = [s for s in api.runtime.started if (s.task_name, s.instance_id) == ("split", 1)]
    assert len(attempts) == 3
    assert api.request("GET", f"/jobs/{job_id}/tasks/split/instances/0").body["RetryCount"] == 0


def test_redirect_paths_are_the_full_log_objects_and_hold_the_output(api: Api) -> None:
    """StdoutRedirectPath / StderrRedirectPath: `<dir>stdout.<jobId>.<task>.<n>`, written."""
    api.runtime.script("split", FakeStep(stdout="hello from 1\n"), instance=1)
    job_id = api.create(make_body())
    api.wait_state(job_id, "Finished")
    instance = api.request("GET", f"/jobs/{job_id}/tasks/split/instances/1").body
    stdout = f"oss://bucket/logs/stdout.{job_id}.split.1"
    assert instance["StdoutRedirectPath"] == stdout
    assert instance["StderrRedirectPath"] == f"oss://bucket/logs/stderr.{job_id}.split.1"
    root = api.stack.config.oss.root
    assert (root / stdout.removeprefix("oss://")).read_text() == "hello from 1\n"
    assert (root / f"bucket/logs/stderr.{job_id}.split.1").exists()


def test_description_is_the_submitted_body_with_notification(api: Api) -> None:
    """GET /jobs/{id}?description (bare key): the submitted body; Notification at least {}."""
    plain = make_body()
    job_id = api.create(plain)
    reply = api.request("GET", f"/jobs/{job_id}?description")
    assert reply.status == 200 and reply.body == {**plain, "Notification": {}}
    topic = {"Topic": {"Name": "t", "Endpoint": "http://mns/", "Events": ["OnJobFinished"]}}
    notified = make_body(Notification=topic)
    job_id = api.create(notified)
    assert api.request("GET", f"/jobs/{job_id}?description").body == notified
    assert "Id" in api.request("GET", f"/jobs/{job_id}?").body  # no key: GetJob


def test_quotas_and_available_resources_shapes(api: Api) -> None:
    """GetQuotas: five lists; GetAvailableResource items {InstanceType, CpuCore, MemorySize,
    Network {Classic, Vpc}}."""
    quotas = api.request("GET", "/quotas").body
    for key in (
        "AvailableClusterInstanceType",
        "AvailableSpotInstanceType",
        "AvailableClusterInstanceSystemDiskType",
        "AvailableClusterInstanceDataDiskType",
        "AvailableClusterResourceType",
    ):
        assert isinstance(quotas[key], list) and quotas[key], key
    available = api.request("GET", "/available").body["AvailableClusterInstanceType"]
    assert isinstance(available, list)
    for item in available:
        assert type(item["InstanceType"]) is str and type(item["CpuCore"]) is int
        assert isinstance(item["MemorySize"], int | float)
        assert set(item["Network"]) == {"Classic", "Vpc"}


# -- lists ------------------------------------------------------------------------------


def _collect(api: Api, target: str, per_page: int) -> list[Body]:
    """Loop as the clients do: while NextMarker is truthy; the first request has a bare Marker."""
    items: list[Body] = []
    marker: str | None = None
    for _ in range(50):
        query = "Marker" if marker is None else f"Marker={marker}"
        page = api.request("GET", f"{target}?{query}&MaxItemCount={per_page}")
        assert page.status == 200, page.body
        assert set(page.body) == {"Items", "NextMarker"}
        assert type(page.body["NextMarker"]) is str
        assert len(page.body["Items"]) <= per_page
        items.extend(page.body["Items"])
        marker = page.body["NextMarker"]
        if not marker:
            return items
    raise AssertionError(f"{target} never answered an empty NextMarker")


def test_every_list_honours_max_item_count_and_ends_with_an_empty_marker(serve: Serve) -> None:
    """Lists: {Items, NextMarker}; NextMarker "" on the last page; MaxItemCount honoured."""
    clusters = "".join(f"[clusters.cls-{n}]\n" for n in range(3))
    api = serve(config_toml=clusters)
    job_ids = [api.create(make_body(name=f"j{n}", instances=3)) for n in range(3)]
    for job_id in job_ids:
        api.wait_state(job_id, "Finished")
    assert [j["Id"] for j in _collect(api, "/jobs", 2)] == job_ids[::-1]
    assert [j["Id"] for j in _collect(api, "/jobs", 3)] == job_ids[::-1]  # exact multiple
    tasks = _collect(api, f"/jobs/{job_ids[0]}/tasks", 1)
    assert [t["TaskName"] for t in tasks] == ["split", "merge"]
    instances = _collect(api, f"/jobs/{job_ids[0]}/tasks/split/instances", 2)
    assert [i["InstanceId"] for i in instances] == [0, 1, 2]
    images = _collect(api, "/images", 1)
    assert [i["Id"] for i in images] == sorted(api.stack.config.images)
    assert [c["Id"] for c in _collect(api, "/clusters", 2)] == ["cls-0", "cls-1", "cls-2"]
    one = api.request("GET", "/images?MaxItemCount=1").body
    assert len(one["Items"]) == 1 and one["NextMarker"]


def test_bad_list_parameters_are_invalid_query_strings(api: Api) -> None:
    for target in ("/jobs?MaxItemCount=0", "/images?MaxItemCount=x", "/clusters?Marker=nope"):
        reply = api.request("GET", target)
        assert (reply.status, reply.body["Code"]) == (403, "InvalidQueryString"), target


# -- errors -----------------------------------------------------------------------------


def test_every_answer_carries_a_request_id_and_errors_are_code_and_message(api: Api) -> None:
    """x-acs-request-id on every response (successes, errors, unknown routes); error bodies
    are exactly {Code, Message} as application/json."""
    api.runtime.script("split", FakeStep(hang=True), instance=0)
    job_id = api.create(make_body())
    missing = "job-" + "0" * 32
    cyclic = make_body()
    cyclic["DAG"]["Dependencies"] = {"split": ["merge"], "merge": ["split"]}
    calls: list[tuple[str, str, Any, bytes | None, int, str]] = [
        ("GET", f"/jobs/{job_id}", None, None, 200, ""),
        ("GET", "/jobs?Marker&MaxItemCount=100", None, None, 200, ""),
        ("POST", "/jobs", None, b"{oops", 400, "InvalidJsonFormat"),
        ("POST", "/jobs", cyclic, None, 400, "BadDAG"),
        ("GET", "/no/such/route", None, None, 400, "InvalidUrlPattern"),
        ("POST", f"/jobs/{job_id}/jump", None, None, 400, "InvalidUrlPattern"),
        ("PATCH", "/jobs", None, None, 400, "MethodNotAllowed"),
        ("GET", "/jobs?State=Asleep", None, None, 403, "InvalidQueryString"),
        ("GET", f"/jobs/{missing}", None, None, 404, "InvalidResource.NotFound"),
        ("GET", f"/jobs/{missing}?description", None, None, 404, "InvalidResource.NotFound"),
        ("GET", f"/jobs/{job_id}/tasks/nope", None, None, 404, "InvalidResource.NotFound"),
        ("GET", f"/jobs/{job_id}/tasks/split/instances/9", None, None, 404,
         "InvalidResource.NotFound"),
        ("DELETE", f"/jobs/{job_id}", None, None, 409, "StateConflict"),
    ]  # fmt: skip
    seen_ids = set()
    for method, target, body, raw, status, code in calls:
        reply = api.request(method, target, body, raw=raw)
        assert reply.status == status, (method, target, reply.body)
        request_id = reply.headers["x-acs-request-id"]
        assert request_id and request_id not in seen_ids
        seen_ids.add(request_id)
        if code:
            assert reply.body == {"Code": code, "Message": reply.body["Message"]}
            assert reply.body["Message"], target
            assert reply.headers["Content-Type"].startswith("application/json")
    reply = api.request("GET", "/jobs", headers={"x-acs-version": "2014-01-01"})
    assert (reply.status, reply.body["Code"]) == (403, "InvalidVersion.NotFound")
    assert reply.headers["x-acs-request-id"]


def test_an_unsigned_request_is_forbidden_with_a_request_id(serve: Serve) -> None:
    """403 Forbidden (bad signature) when credentials are configured."""
    api = serve(env={"LOCALBATCH_ACCESS_KEY_ID": "ak", "LOCALBATCH_ACCESS_KEY_SECRET": "sk"})
    assert api.request("GET", "/jobs").status == 200  # the helper signs
    forged = api.request("GET", "/jobs", headers={"Authorization": "acs ak:AAAA"})
    assert (forged.status, forged.body["Code"]) == (403, "Forbidden")
    assert forged.headers["x-acs-request-id"]


def test_internal_errors_leak_nothing(api: Api, monkeypatch: Any) -> None:
    """500 InternalError with the service's message, never a traceback."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(api.stack.store, "list_jobs", broken)
    reply = api.request("GET", "/jobs")
    assert (reply.status, reply.body["Code"]) == (500, "InternalError")
    assert "secret" not in json.dumps(reply.body) and reply.headers["x-acs-request-id"]


# -- IdempotentToken -----------------------------------------------------------------------


def test_idempotent_token_same_body_same_job_other_body_mismatch(api: Api) -> None:
    """Same token + same body (any key order or spacing) -> the same job; other body -> 400."""
    body = make_body()
    first = api.create(body, token="T-1")
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4).encode()
    again = api.request("POST", "/jobs?IdempotentToken=T-1", raw=reordered)
    assert (again.status, again.body) == (201, {"Id": first})
    other = api.request("POST", "/jobs?IdempotentToken=T-1", make_body(name="other"))
    assert (other.status, other.body["Code"]) == (400, "IdempotentTokenMismatch")
    assert api.create(body, token="T-2") != first
    assert api.create(body) not in (first,)  # no token: always a new job
