"""A minimal AttemptSpec for unit tests; each test changes only what it is about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localbatch.runtime.base import AttemptSpec


def attempt_spec(**changes: Any) -> AttemptSpec:
    fields: dict[str, Any] = {
        "job_id": "job-1",
        "task_name": "t",
        "instance_id": 0,
        "attempt": 0,
        "argv": ("true",),
        "env": {},
        "workdir": Path("/tmp"),
    }
    fields.update(changes)
    return AttemptSpec(**fields)
