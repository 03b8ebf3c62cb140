"""Events to JSON: one encoding shared by the store's event log and the JSON-lines files."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from localbatch.events import Event


def event_to_dict(event: Event) -> dict[str, Any]:
    """Every field of the event, JSON-ready (detail values that are not JSON become strings);
    `batch` only on a batch event."""
    fields = {
        "name": event.name,
        "job_id": event.job_id,
        "state": event.state.value,
        "time": event.time,
        "category": event.category,
        "task_name": event.task_name,
        "instance_id": event.instance_id,
        "start_time": event.start_time,
        "end_time": event.end_time,
        "retry_count": event.retry_count,
        "attempt": event.attempt,
        "exit_code": event.exit_code,
        "error_code": event.error_code,
        "error_message": event.error_message,
        "latest_attempt": asdict(event.latest_attempt) if event.latest_attempt else None,
        "detail": dict(event.detail),
    }
    if event.batch is not None:
        fields["batch"] = {"count": event.batch.count, "exempt": sorted(event.batch.exempt)}
    return fields


def event_json(event: Event) -> str:
    """The event as one line of JSON (non-ASCII kept readable), as stored and appended."""
    return json.dumps(event_to_dict(event), ensure_ascii=False, default=str)
