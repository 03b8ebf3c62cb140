"""Notifications: every event in a JSON-lines file per job, and webhook POSTs for the
events a job's `Notification.Topic.Events` lists.

`Notifier` is an EventBus listener. The file line is written at once; the POST is queued to
a background thread that retries with backoff, so a slow or failing endpoint never blocks
or fails a job (failures are logged, and the file keeps the event in any case).

Message body (semantics.md [decided]): `Category`, `JobId`, `JobName`, `Event`, `State`,
`CreationTime`, `StartTime`, `EndTime`, plus `TaskName` for task events, `TaskName` and
`InstanceId` for instance events, and `Priority` for job events. The Topic's `Name` goes in
the `x-localbatch-topic` header.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from localbatch.diskspace import explain
from localbatch.events import Event
from localbatch.events.codec import event_json
from localbatch.spec.model import Topic, parse_job
from localbatch.storage.layout import job_dir
from localbatch.store import Store
from localbatch.timefmt import api_time

log = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"
#: Delays before the 2nd, 3rd, ... try of a POST.
RETRY_DELAYS = (0.5, 2.0, 5.0)
POST_TIMEOUT_SECONDS = 5.0
#: POSTs waiting beyond this are dropped (and logged): memory stays bounded.
MAX_QUEUED = 10_000


def events_file(state_dir: Path, job_id: str) -> Path:
    """A job's JSON-lines event log; it stays when the job is deleted from the store."""
    return job_dir(state_dir, job_id) / EVENTS_FILE


@dataclass(frozen=True)
class Delivery:
    """One POST waiting in the queue: the delivery thread sends it, the engine never waits."""

    endpoint: str
    topic: str
    message: Mapping[str, Any]


def message_body(event: Event, job_name: str, creation_time: float | None) -> dict[str, Any]:
    """The JSON a webhook receives for one event."""
    body: dict[str, Any] = {
        "Category": event.category,
        "JobId": event.job_id,
        "JobName": job_name,
        "Event": event.name,
        "State": event.state.value,
        "CreationTime": api_time(creation_time),
        "StartTime": api_time(event.start_time),
        "EndTime": api_time(event.end_time),
    }
    if event.task_name is not None:
        body["TaskName"] = event.task_name
    if event.instance_id is not None:
        body["InstanceId"] = event.instance_id
    if event.category == "Job" and isinstance(event.detail.get("priority"), int):
        body["Priority"] = event.detail["priority"]
    return body


def post_json(endpoint: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
    """One POST; raises OSError (URLError, HTTPError) on any failure or non-2xx answer."""
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=POST_TIMEOUT_SECONDS) as response:
        response.read()


class Notifier:
    """Records events per job (JSON lines) and publishes the subscribed ones to a webhook."""

    def __init__(
        self,
        state_dir: Path,
        store: Store,
        endpoint: str = "",
        *,
        post: Callable[[str, Mapping[str, Any], Mapping[str, str]], None] = post_json,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.state_dir = state_dir
        self.store = store
        self.endpoint = endpoint
        self.post = post
        self.retry_delays = retry_delays
        self._topics: dict[str, Topic | None] = {}
        #: Jobs whose event file could not be written (said once each).
        self._unwritable: set[str] = set()
        self._queue: queue.Queue[Delivery | None] = queue.Queue(MAX_QUEUED)
        self._closing = threading.Event()
        self._worker = threading.Thread(target=self._deliver_all, name="notify", daemon=True)
        self._worker.start()

    def __call__(self, event: Event) -> None:
        self._append(event)
        if self.endpoint:
            self._publish(event)

    def _append(self, event: Event) -> None:
        """One line in the job's file; a disk that refuses it is said once per job (the
        store keeps the event, see store/recorder.py), not a traceback per event."""
        path = events_file(self.state_dir, event.job_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(event_json(event) + "\n")
        except OSError as exc:
            if event.job_id not in self._unwritable:
                self._unwritable.add(event.job_id)
                log.warning("cannot append to %s: %s", path, explain(path.parent, exc))

    def _topic(self, job_id: str) -> Topic | None:
        if job_id not in self._topics:
            body = self.store.job_body(job_id)
            self._topics[job_id] = parse_job(body).topic if body is not None else None
        return self._topics[job_id]

    def _publish(self, event: Event) -> None:
        topic = self._topic(event.job_id)
        if topic is None or event.name not in topic.events:
            return
        record = self.store.get_job(event.job_id)
        name = record.name if record else ""
        created = record.creation_time if record else None
        # A batch event is one message per instance, as if each had had its own event.
        singles = (
            (replace(event, instance_id=i, batch=None) for i in event.batch.ids())
            if event.batch is not None
            else (event,)
        )
        for single in singles:
            try:
                message = message_body(single, name, created)
                self._queue.put_nowait(Delivery(self.endpoint, topic.name, message))
            except queue.Full:
                log.error("notification queue full: %s of %s not sent", event.name, event.job_id)
                return

    def _deliver_all(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> None:
        headers = {"x-localbatch-topic": delivery.topic}
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            if delay and self._closing.wait(delay):
                break
            try:
                self.post(delivery.endpoint, delivery.message, headers)
                return
            except (OSError, ValueError) as exc:
                log.warning(
                    "notification %s (try %d) to %s failed: %s",
                    delivery.message.get("Event"),
                    attempt + 1,
                    delivery.endpoint,
                    exc,
                )
        log.error(
            "notification %s of %s dropped after %d tries",
            delivery.message.get("Event"),
            delivery.message.get("JobId"),
            len(self.retry_delays) + 1,
        )

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (no more waiting between retries), then stop."""
        self._closing.set()
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.error("notification queue still full at shutdown; undelivered ones dropped")
        self._worker.join(timeout)
