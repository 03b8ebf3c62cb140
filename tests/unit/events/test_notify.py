"""Notifications: every event in the job's JSON-lines file; subscribed ones POSTed, retried."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from localbatch.events import Event
from localbatch.events.notify import Notifier, events_file, message_body
from localbatch.states import State
from tests.unit.server.server_helpers import Api, make_body, start_api


class Webhook:
    """A local HTTP endpoint that records every POSTed JSON body."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.topics: list[str | None] = []
        self.arrived = threading.Condition()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                with hook.arrived:
                    hook.received.append(body)
                    hook.topics.append(self.headers.get("x-localbatch-topic"))
                    hook.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout=30)
            return list(self.received)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture
def notified_api(tmp_path: Path, webhook: Webhook) -> Iterator[Api]:
    api = start_api(tmp_path, env={"LOCALBATCH_NOTIFICATION_ENDPOINT": webhook.url})
    yield api
    api.stack.close()


def test_subscribed_events_are_posted_and_all_are_recorded(
    notified_api: Api, webhook: Webhook
) -> None:
    topic = {"Name": "my-topic", "Events": ["OnJobFinished", "OnInstanceFinished"]}
    job_id = notified_api.create(make_body(instances=2, Notification={"Topic": topic}))
    notified_api.wait_state(job_id, "Finished")

    messages = webhook.wait_for(4)
    assert sorted(m["Event"] for m in messages) == [
        "OnInstanceFinished",
        "OnInstanceFinished",
        "OnInstanceFinished",
        "OnJobFinished",
    ]
    finished = next(m for m in messages if m["Event"] == "OnJobFinished")
    assert finished["Category"] == "Job" and finished["JobId"] == job_id
    assert finished["JobName"] == "demo" and finished["State"] == "Finished"
    assert finished["CreationTime"] and finished["EndTime"]
    instance = next(m for m in messages if m["Event"] == "OnInstanceFinished")
    assert {"TaskName", "InstanceId"} <= set(instance)
    assert set(webhook.topics) == {"my-topic"}

    lines = events_file(notified_api.stack.config.state_dir, job_id).read_text().splitlines()
    recorded = [json.loads(line)["name"] for line in lines]
    assert recorded[0] == "OnJobWaiting" and recorded[-1] == "OnJobFinished"
    assert recorded == [e.name for e in notified_api.stack.store.events(job_id)]


def test_instances_announced_together_are_notified_one_by_one(
    notified_api: Api, webhook: Webhook
) -> None:
    """Waiting instances are one batch event; a subscriber still gets one message each."""
    topic = {"Name": "t", "Events": ["OnInstanceWaiting"]}
    job_id = notified_api.create(make_body(instances=3, Notification={"Topic": topic}))
    notified_api.wait_state(job_id, "Finished")
    messages = webhook.wait_for(4)
    assert sorted((m["TaskName"], m["InstanceId"]) for m in messages) == [
        ("merge", 0),
        ("split", 0),
        ("split", 1),
        ("split", 2),
    ]
    assert {m["Event"] for m in messages} == {"OnInstanceWaiting"}
    lines = events_file(notified_api.stack.config.state_dir, job_id).read_text().splitlines()
    waiting = [json.loads(line) for line in lines if '"name": "OnInstanceWaiting"' in line]
    batches = [event for event in waiting if "batch" in event]
    assert [(b["task_name"], b["batch"]) for b in batches] == [
        ("split", {"count": 3, "exempt": []}),
        ("merge", {"count": 1, "exempt": []}),
    ]


def test_jobs_without_topic_post_nothing(notified_api: Api, webhook: Webhook) -> None:
    job_id = notified_api.create(make_body())
    notified_api.wait_state(job_id, "Finished")
    notified_api.stack.close()  # drains the queue
    assert webhook.received == []


def test_failing_endpoint_is_retried_and_never_blocks(tmp_path: Path) -> None:
    calls: list[str] = []
    gave_up = threading.Event()

    def refuse(endpoint: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        calls.append(endpoint)
        if len(calls) == 3:
            gave_up.set()
        raise ConnectionRefusedError("nobody listens")

    class FakeStore:
        def job_body(self, job_id: str) -> dict[str, Any]:
            return make_body(Notification={"Topic": {"Events": ["OnJobRunning"]}})

        def get_job(self, job_id: str) -> None:
            return None

    notifier = Notifier(
        tmp_path, FakeStore(), "http://127.0.0.1:9/x", post=refuse, retry_delays=(0.0, 0.0)
    )  # type: ignore[arg-type]
    event = Event("OnJobRunning", "job-1", State.RUNNING, 1.0, "Job", start_time=1.0)
    notifier(event)  # returns at once: the POST happens in the background
    assert gave_up.wait(30)
    notifier.close()
    assert len(calls) == 3
    assert events_file(tmp_path, "job-1").read_text().count("OnJobRunning") == 1


def test_message_body_of_each_category() -> None:
    job = message_body(
        Event("OnPriorityChange", "job-1", State.STOPPED, 5.0, "Job", detail={"priority": 7}),
        "name",
        1.0,
    )
    assert job["Priority"] == 7 and "TaskName" not in job and job["StartTime"] == ""
    instance = message_body(
        Event("OnInstanceFailed", "job-1", State.FAILED, 5.0, "Instance", "t", 3), "name", 1.0
    )
    assert (instance["TaskName"], instance["InstanceId"], instance["State"]) == ("t", 3, "Failed")
