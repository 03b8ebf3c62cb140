"""Events to and from JSON: one encoding shared by the store, the JSON-lines files and tools."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localbatch.events import Event
from localbatch.states import State


def event_to_dict(event: Event) -> dict[str, Any]:
    """Every field of the event, JSON-ready (detail values that are not JSON become strings)."""
    return {
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
        "detail": dict(event.detail),
    }


def event_from_dict(data: Mapping[str, Any]) -> Event:
    return Event(
        name=str(data["name"]),
        job_id=str(data["job_id"]),
        state=State(data["state"]),
        time=float(data["time"]),
        category=str(data["category"]),
        task_name=data.get("task_name"),
        instance_id=data.get("instance_id"),
        start_time=data.get("start_time"),
        end_time=data.get("end_time"),
        retry_count=int(data.get("retry_count", 0)),
        attempt=data.get("attempt"),
        exit_code=data.get("exit_code"),
        error_code=str(data.get("error_code", "")),
        error_message=str(data.get("error_message", "")),
        detail=dict(data.get("detail") or {}),
    )
