"""A task with many instances, most of them never touched: the API shows every one of them
(metrics, ListInstances pages, GetInstance) though only those that ran are recorded one by
one, through stop, restart, and a server restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localbatch.runtime.fake import FakeStep
from localbatch.server.stack import start_stack
from localbatch.states import State
from tests.unit.server.server_helpers import Api, make_body, start_api

COUNT = 1_200  # more than one read window of the store (512 ids)


def _instances(api: Api, job_id: str, page: int = 100, query: str = "") -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    marker = ""
    while True:
        reply = api.request(
            "GET",
            f"/jobs/{job_id}/tasks/split/instances?Marker={marker}&MaxItemCount={page}{query}",
        )
        assert reply.status == 200, reply.body
        seen.extend(reply.body["Items"])
        marker = reply.body["NextMarker"]
        if not marker:
            return seen


def _metrics(api: Api, job_id: str) -> dict[str, int]:
    return {
        k: v for k, v in api.request("GET", f"/jobs/{job_id}").body["InstanceMetrics"].items() if v
    }


def _recorded_rows(api: Api) -> int:
    with api.stack.store._write() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0])


def test_every_instance_shows_through_stop_and_restart(tmp_path: Path) -> None:
    api = start_api(tmp_path, max_parallel=2)
    try:
        api.runtime.script("split", FakeStep(hang=True))
        job_id = api.create(make_body(instances=COUNT))
        events_seen = api.stack.store.events(job_id)
        assert len(events_seen) < 10  # the job, its tasks, one batch per task
        # As many run (and hang) as the host holds at once, at most 2.
        while not (running := _metrics(api, job_id).get("RunningCount", 0)):
            api.stack.engine.snapshot(job_id)  # a round trip through the engine thread
        while api.stack.engine.snapshot(job_id).tasks[0].metrics.running != running:
            running = _metrics(api, job_id).get("RunningCount", 0)
        assert _metrics(api, job_id) == {
            "WaitingCount": COUNT + 1 - running,
            "RunningCount": running,
        }
        assert _recorded_rows(api) == running

        listed = _instances(api, job_id)
        assert [i["InstanceId"] for i in listed] == list(range(COUNT))
        assert [i["State"] for i in listed[: running + 1]] == ["Running"] * running + ["Waiting"]
        assert _instances(api, job_id, 1, "&State=Running") == listed[:running]
        assert [i["InstanceId"] for i in _instances(api, job_id, 250, "&State=Waiting")] == list(
            range(running, COUNT)
        )
        last = api.request("GET", f"/jobs/{job_id}/tasks/split/instances/{COUNT - 1}").body
        assert last == listed[-1]
        assert last["State"] == "Waiting" and last["RetryCount"] == 0 and last["StartTime"] == ""
        assert last["StdoutRedirectPath"].endswith(f"stdout.{job_id}.split.{COUNT - 1}")
        assert api.request("GET", f"/jobs/{job_id}/tasks/split/instances/{COUNT}").status == 404
        task = api.request("GET", f"/jobs/{job_id}/tasks/split").body
        assert task["InstanceMetrics"]["WaitingCount"] == COUNT - running

        assert api.request("POST", f"/jobs/{job_id}/stop").status == 201
        assert _metrics(api, job_id) == {"StoppedCount": COUNT + 1}
        stopped = _instances(api, job_id, 500)
        assert {i["State"] for i in stopped} == {"Stopped"}
        assert stopped[5]["EndTime"] == ""  # never started
        assert stopped[0]["EndTime"] != ""
    finally:
        api.stack.close()

    # A new server on the same state dir shows the same; StartJob runs it again afresh.
    config = api.stack.config
    again = Api(start_stack(config, api.runtime, port=0, oss_port=0, max_parallel=1), api.runtime)
    try:
        assert _metrics(again, job_id) == {"StoppedCount": COUNT + 1}
        assert _instances(again, job_id, 500) == stopped
        assert again.request("POST", f"/jobs/{job_id}/start").status == 201
        while not _metrics(again, job_id).get("RunningCount"):
            again.stack.engine.snapshot(job_id)
        restarted = _instances(again, job_id, 1000)
        assert [i["State"] for i in restarted[:2]] == ["Running", "Waiting"]
        # Those that ran before wait again as new: no times, no retries, no result.
        assert restarted[1]["StartTime"] == restarted[1]["EndTime"] == ""
        assert {i["State"] for i in restarted[1:]} == {State.WAITING.value}
        assert all(i["RetryCount"] == 0 and i["Result"]["ExitCode"] is None for i in restarted[1:])
        assert again.request("POST", f"/jobs/{job_id}/stop").status == 201
    finally:
        again.stack.close()
