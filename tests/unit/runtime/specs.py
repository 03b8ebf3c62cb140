"""Small helpers the runtime tests share: a minimal AttemptSpec, a pid nobody owns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from localbatch.runtime.base import AttemptSpec
from localbatch.storage.needs import Need, package_view


def attempt_spec(
    *, workdir: Path = Path("/tmp"), needs: tuple[Need, ...] = (), **changes: Any
) -> AttemptSpec:
    """An attempt whose package view is `workdir`, with `needs` besides."""
    fields: dict[str, Any] = {
        "job_id": "job-1",
        "task_name": "t",
        "instance_id": 0,
        "attempt": 0,
        "argv": ("true",),
        "env": {},
        "needs": (package_view(workdir), *needs),
    }
    fields.update(changes)
    return AttemptSpec(**fields)


def dead_pid() -> int:
    """The pid of a process that has ended (until the kernel reuses it)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
