"""semantics.md, claim by claim, through the real server on the fake runtime.

What an official client observes over HTTP (states, metrics, error codes and messages) and
what a program would see (the attempt specs the fake runtime received).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from localbatch.runtime.fake import FakeStep
from localbatch.spec.model import parse_job
from tests.conformance.conftest import Events, Serve
from tests.unit.events.test_notify import Webhook
from tests.unit.server.server_helpers import Api, make_body

Body = dict[str, Any]


def _task(instances: int = 1, **extra: Any) -> Body:
    task = make_body(instances=instances)["DAG"]["Tasks"]["split"]
    task.update(extra)
    return task


def _dag_body(tasks: dict[str, Body], dependencies: dict[str, list[str]], **extra: Any) -> Body:
    return make_body(DAG={"Tasks": tasks, "Dependencies": dependencies}, **extra)


def _conflict(api: Api, method: str, target: str, state: str, body: Any = None) -> None:
    reply = api.request(method, target, body)
    assert reply.status == 409, (method, target, reply.body)
    assert reply.body == {
        "Code": "StateConflict",
        "Message": f"User operation is invalid. The current resource state is {state}.",
    }


def _metrics(api: Api, target: str) -> dict[str, int]:
    return dict(api.request("GET", target).body["InstanceMetrics"])


# -- object model -------------------------------------------------------------------------


def test_dependencies_run_upstream_first_fan_out_and_fan_in(api: Api) -> None:
    """DAG.Dependencies maps an upstream task to the tasks that run after it."""
    tasks = {name: _task() for name in ("split", "c1", "c2", "merge")}
    deps = {"split": ["c1", "c2"], "c1": ["merge"], "c2": ["merge"]}
    job_id = api.create(_dag_body(tasks, deps))
    api.wait_state(job_id, "Finished")
    order = [spec.task_name for spec in api.runtime.started]
    assert order[0] == "split" and set(order[1:3]) == {"c1", "c2"} and order[3] == "merge"


def test_a_cycle_and_an_unknown_dependency_are_refused(api: Api) -> None:
    """Cycle: 400 BadDAG "It is a cyclic dag."; unknown task: 400 InvalidDependencies…"""
    tasks = {"a": _task(), "b": _task()}
    cyclic = api.request("POST", "/jobs", _dag_body(tasks, {"a": ["b"], "b": ["a"]}))
    assert (cyclic.status, cyclic.body) == (
        400,
        {"Code": "BadDAG", "Message": "It is a cyclic dag."},
    )
    unknown = api.request("POST", "/jobs", _dag_body(tasks, {"a": ["nowhere"]}))
    assert unknown.status == 400 and unknown.body["Code"].startswith("InvalidDependencies")
    assert api.request("GET", "/jobs").body["Items"] == []


def test_instance_ids_and_job_id_format(api: Api) -> None:
    """Instance ids are 0..InstanceCount-1; job ids are job- + 32 upper-case hex digits."""
    job_id = api.create(_dag_body({"t": _task(4)}, {}))
    assert job_id.startswith("job-") and len(job_id) == 36
    assert job_id[4:] == job_id[4:].upper() and int(job_id[4:], 16) >= 0
    api.wait_state(job_id, "Finished")
    listed = api.request("GET", f"/jobs/{job_id}/tasks/t/instances").body["Items"]
    assert [i["InstanceId"] for i in listed] == [0, 1, 2, 3]
    assert sorted(s.instance_id for s in api.runtime.started) == [0, 1, 2, 3]


def test_timeout_defaults_to_86400_and_the_sdk_defaults_apply() -> None:
    """Timeout absent: 86400 [decided]; InstanceCount 1, MaxRetryCount 0,
    JobFailOnInstanceFail true, AutoRelease false when absent."""
    task = _task()
    for key in ("Timeout", "InstanceCount", "MaxRetryCount"):
        del task[key]
    body = _dag_body({"t": task}, {})
    del body["JobFailOnInstanceFail"]
    job = parse_job(body)
    parsed = job.tasks["t"]
    assert (parsed.timeout, parsed.instance_count, parsed.max_retry_count) == (86400, 1, 0)
    assert job.job_fail_on_instance_fail and not job.auto_release


def test_cluster_id_or_auto_cluster(serve: Serve) -> None:
    """An empty ClusterId beside an AutoCluster uses the AutoCluster; neither: MissingClusterId;
    a ClusterId runs on that cluster (BATCH_COMPUTE_CLUSTER_ID, ListJobs ClusterId)."""
    api = serve(config_toml='[clusters.cls-1]\ninstance_type = "ecs.sn1.medium"\n')
    auto = _task(ClusterId="")
    auto_id = api.create(_dag_body({"t": auto}, {}))
    api.wait_state(auto_id, "Finished")
    neither = _task()
    del neither["AutoCluster"]
    refused = api.request("POST", "/jobs", _dag_body({"t": neither}, {}))
    assert (refused.status, refused.body["Code"]) == (400, "MissingClusterId")
    on_cluster = _task(ClusterId="cls-1")
    del on_cluster["AutoCluster"]
    cluster_id = api.create(_dag_body({"t": on_cluster}, {}))
    api.wait_state(cluster_id, "Finished")
    env = {s.job_id: s.env["BATCH_COMPUTE_CLUSTER_ID"] for s in api.runtime.started}
    assert env[cluster_id] == "cls-1" and env[auto_id] != "cls-1"
    listed = api.request("GET", "/jobs?ClusterId=cls-1").body["Items"]
    assert [j["Id"] for j in listed] == [cluster_id]


# -- states ---------------------------------------------------------------------------------


def test_job_and_task_run_once_their_first_instance_runs(api: Api, events: Events) -> None:
    """A job is Running once its first instance runs; a task is Running while any runs."""
    gate = threading.Event()
    api.runtime.script("split", FakeStep(gate=gate), instance=0)
    job_id = api.create(make_body())
    events.wait_for("OnInstanceRunning", job_id, "split")
    events.wait_for("OnInstanceFinished", job_id, "split")  # instance 1 done, 0 still runs
    assert api.request("GET", f"/jobs/{job_id}").body["State"] == "Running"
    assert api.request("GET", f"/jobs/{job_id}/tasks/split").body["State"] == "Running"
    assert api.request("GET", f"/jobs/{job_id}/tasks/merge").body["State"] == "Waiting"
    gate.set()
    job = api.wait_state(job_id, "Finished")
    assert job["TaskMetrics"]["FinishedCount"] == 2


def test_job_fail_on_instance_fail_true_stops_the_rest_and_fails_the_job(api: Api) -> None:
    """The first instance failed after its retries fails its task and the job; nothing new
    starts; running instances end Stopped."""
    api.runtime.script("split", FakeStep(hang=True), instance=0)
    api.runtime.script("split", FakeStep(exit_code=1), instance=1)
    job_id = api.create(make_body())
    job = api.wait_state(job_id, "Failed")
    assert job["TaskMetrics"] == {
        "WaitingCount": 0, "RunningCount": 0, "FinishedCount": 0, "FailedCount": 1,
        "StoppedCount": 1,
    }  # fmt: skip
    split = f"/jobs/{job_id}/tasks/split"
    assert api.request("GET", split).body["State"] == "Failed"
    assert api.request("GET", f"{split}/instances/0").body["State"] == "Stopped"
    assert api.request("GET", f"{split}/instances/1").body["State"] == "Failed"
    assert api.request("GET", f"/jobs/{job_id}/tasks/merge").body["State"] == "Stopped"
    assert "merge" not in {s.task_name for s in api.runtime.started}


def test_job_fail_on_instance_fail_false_finishes_counting_failures(api: Api) -> None:
    """Failures do not fail the job: the task ends Finished with FailedCount, downstream
    tasks run, the job ends Finished [decided]."""
    api.runtime.script("split", FakeStep(exit_code=2), instance=0)
    job_id = api.create(make_body(JobFailOnInstanceFail=False))
    job = api.wait_state(job_id, "Finished")
    split = api.request("GET", f"/jobs/{job_id}/tasks/split").body
    assert split["State"] == "Finished"
    assert split["InstanceMetrics"]["FailedCount"] == 1
    assert split["InstanceMetrics"]["FinishedCount"] == 1
    assert api.request("GET", f"/jobs/{job_id}/tasks/merge").body["State"] == "Finished"
    assert job["InstanceMetrics"]["FailedCount"] == 1


def test_user_operations_follow_the_state_rules(api: Api, events: Events) -> None:
    """Stop only Waiting/Running; Start only Stopped/Failed (re-runs only the unfinished);
    Delete only terminal; Priority only while Stopped; otherwise 409 StateConflict
    "User operation is invalid. The current resource state is {State}."."""
    api.runtime.script("split", FakeStep(hang=True), instance=0)
    job_id = api.create(make_body())
    events.wait_for("OnInstanceFinished", job_id, "split")  # split.1; split.0 hangs
    target = f"/jobs/{job_id}"
    _conflict(api, "POST", f"{target}/start", "Running")
    _conflict(api, "DELETE", target, "Running")
    _conflict(api, "PUT", target, "Running", {"Priority": 5})

    assert api.request("POST", f"{target}/stop").status == 201
    api.wait_state(job_id, "Stopped")
    assert api.request("GET", f"{target}/tasks/split/instances/0").body["State"] == "Stopped"
    _conflict(api, "POST", f"{target}/stop", "Stopped")
    assert api.request("PUT", target, {"Priority": 5}).status == 200
    assert api.request("GET", target).body["Priority"] == 5

    finished_before = {
        (task, item["InstanceId"])
        for task in ("split", "merge")
        for item in api.request("GET", f"{target}/tasks/{task}/instances").body["Items"]
        if item["State"] == "Finished"
    }
    assert finished_before == {("split", 1)}
    started_before = len(api.runtime.started)
    api.runtime.script("split", FakeStep(exit_code=9), instance=0)
    assert api.request("POST", f"{target}/start").status == 201
    api.wait_state(job_id, "Failed")
    rerun = {(s.task_name, s.instance_id) for s in api.runtime.started[started_before:]}
    assert ("split", 0) in rerun and not rerun & finished_before
    _conflict(api, "PUT", target, "Failed", {"Priority": 6})
    _conflict(api, "POST", f"{target}/stop", "Failed")

    api.runtime.script("split", FakeStep(), instance=0)
    assert api.request("POST", f"{target}/start").status == 201
    api.wait_state(job_id, "Finished")
    for method, path in (("POST", f"{target}/start"), ("POST", f"{target}/stop")):
        _conflict(api, method, path, "Finished")
    _conflict(api, "PUT", target, "Finished", {"Priority": 6})
    assert api.request("DELETE", target).status == 204


def test_a_waiting_job_can_only_be_stopped(serve: Serve) -> None:
    """Waiting: Stop allowed (it ends Stopped, never having run); the rest 409 Waiting."""
    api = serve(max_parallel=1)
    api.runtime.script("only", FakeStep(hang=True))
    blocker = api.create(_dag_body({"only": _task()}, {}))
    api.runtime.wait_running(1)
    waiting = api.create(make_body(name="queued"))
    job = api.request("GET", f"/jobs/{waiting}").body
    assert (job["State"], job["StartTime"], job["EndTime"]) == ("Waiting", "", "")
    target = f"/jobs/{waiting}"
    _conflict(api, "DELETE", target, "Waiting")
    _conflict(api, "POST", f"{target}/start", "Waiting")
    _conflict(api, "PUT", target, "Waiting", {"Priority": 3})
    assert api.request("POST", f"{target}/stop").status == 201
    stopped = api.wait_state(waiting, "Stopped")
    assert stopped["StartTime"] == "" and stopped["InstanceMetrics"]["StoppedCount"] == 3
    assert api.request("DELETE", target).status == 204
    assert api.request("POST", f"/jobs/{blocker}/stop").status == 201


def test_auto_release_deletes_only_finished_jobs(api: Api) -> None:
    """AutoRelease true: the job is deleted once it is Finished (a Failed one is kept)."""
    api.runtime.script("split", FakeStep(exit_code=1), instance=0)
    failed = api.create(make_body(AutoRelease=True))
    api.wait_state(failed, "Failed")
    api.runtime.script("split", FakeStep(), instance=0)
    finished = api.create(make_body(name="released", AutoRelease=True))
    api.stack.engine.wait(finished, timeout=30)
    assert api.request("GET", f"/jobs/{finished}").status == 404
    assert api.request("GET", f"/jobs/{failed}").body["State"] == "Failed"


# -- what an instance sees ------------------------------------------------------------------


def test_instances_see_the_documented_environment(api: Api) -> None:
    """BATCH_COMPUTE_* values; USER/HOME/PWD; PATH without /usr/local/bin; EnvVars added."""
    body = make_body()
    body["DAG"]["Tasks"]["split"]["Parameters"]["Command"]["EnvVars"] = {"MINE": "yes"}
    job_id = api.create(body)
    api.wait_state(job_id, "Finished")
    config = api.stack.config
    seen = {(s.task_name, s.instance_id): dict(s.env) for s in api.runtime.started}
    assert set(seen) == {("split", 0), ("split", 1), ("merge", 0)}
    for (task, instance), env in seen.items():
        assert env["BATCH_COMPUTE_DAG_JOB_ID"] == job_id
        assert env["BATCH_COMPUTE_DAG_TASK_ID"] == task
        assert env["BATCH_COMPUTE_DAG_INSTANCE_ID"] == str(instance)
        assert env["BATCH_COMPUTE_OSS_HOST"] == api.stack.local.instance_oss_address
        assert env["BATCH_COMPUTE_REGION"] == config.region
        assert env["BATCH_COMPUTE_CLUSTER_ID"]
        assert env["BATCH_COMPUTE_WORKER_ID"]
        assert env["USER"] == "root" and env["HOME"] == "/root"
        assert env["PWD"] == "/batchcompute/workdir"
        assert env["PATH"] == "/sbin:/usr/sbin:/bin:/usr/bin"
    assert seen[("split", 0)]["MINE"] == "yes" and "MINE" not in seen[("merge", 0)]
    workers = {env["BATCH_COMPUTE_WORKER_ID"] for env in seen.values()}
    assert len(workers) == 3  # one worker per instance


def test_command_line_is_split_into_words_without_a_shell(api: Api) -> None:
    """CommandLine is an interpreter plus a script, split into words and executed."""
    body = make_body()
    body["DAG"]["Tasks"]["split"]["Parameters"]["Command"]["CommandLine"] = (
        "sh -c 'echo $HOME | wc -c'"
    )
    job_id = api.create(body)
    api.wait_state(job_id, "Finished")
    split = next(s for s in api.runtime.started if s.task_name == "split")
    assert split.argv == ("sh", "-c", "echo $HOME | wc -c")


# -- notification and limits ----------------------------------------------------------------


@pytest.fixture
def webhook() -> Any:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


def test_notification_messages_carry_the_decided_fields(serve: Serve, webhook: Webhook) -> None:
    """Job events: Category "Job", JobId, JobName, Event, State, CreationTime, StartTime,
    EndTime; task events add TaskName; instance events add InstanceId [decided]."""
    api = serve(env={"LOCALBATCH_NOTIFICATION_ENDPOINT": webhook.url})
    wanted = ["OnJobRunning", "OnJobFinished", "OnTaskFinished", "OnInstanceFailed"]
    api.runtime.script("split", FakeStep(exit_code=4), instance=1)
    body = make_body(JobFailOnInstanceFail=False, Notification={"Topic": {"Events": wanted}})
    job_id = api.create(body)
    api.wait_state(job_id, "Finished")
    messages = {m["Event"]: m for m in webhook.wait_for(5)}  # 2 OnTaskFinished
    assert set(messages) == set(wanted)
    common = {"Category", "JobId", "JobName", "Event", "State"}
    common |= {"CreationTime", "StartTime", "EndTime"}
    job = messages["OnJobFinished"]
    assert common <= set(job) and job["Category"] == "Job" and job["JobName"] == "demo"
    assert (job["JobId"], job["State"]) == (job_id, "Finished")
    assert job["CreationTime"] and job["StartTime"] and job["EndTime"]
    assert messages["OnJobRunning"]["EndTime"] == ""
    task = messages["OnTaskFinished"]
    assert common | {"TaskName"} <= set(task) and task["Category"] == "Task"
    assert "InstanceId" not in task
    instance = messages["OnInstanceFailed"]
    assert common | {"TaskName", "InstanceId"} <= set(instance)
    assert (instance["Category"], instance["TaskName"], instance["InstanceId"]) == (
        "Instance",
        "split",
        1,
    )


def test_job_count_quota_is_exhausted_with_the_service_message(serve: Serve) -> None:
    """403 QuotaExhausted.<Name> "The <Name> (<value>) quota is exhausted."."""
    api = serve(env={"LOCALBATCH_MAX_JOB_COUNT": "1"})
    api.create(make_body())
    reply = api.request("POST", "/jobs", make_body(name="second"))
    assert (reply.status, reply.body) == (
        403,
        {
            "Code": "QuotaExhausted.MaxJobCount",
            "Message": "The MaxJobCount (1) quota is exhausted.",
        },
    )


def test_reserve_on_fail_keeps_only_the_failed_environment(api: Api) -> None:
    """ReserveOnFail (AutoCluster): the failed instance's environment is kept [decided]."""
    api.runtime.script("split", FakeStep(exit_code=1), instance=1)
    body = make_body(JobFailOnInstanceFail=False)
    for task in body["DAG"]["Tasks"].values():
        task["AutoCluster"]["ReserveOnFail"] = True
    job_id = api.create(body)
    api.wait_state(job_id, "Finished")
    kept = {ref: keep for ref, keep in api.runtime.released}
    by_instance = {(s.task_name, s.instance_id): s for s in api.runtime.started}
    assert by_instance[("split", 1)].keep_on_failure
    assert sorted(kept.values()) == [False, False, True]
