"""Helpers for the storage tests: configs on a private state dir, job bodies, archives."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localbatch.config import Config, load_config
from localbatch.spec.model import parse_job
from localbatch.storage.instance import JobStorage, PreparedAttempt
from localbatch.storage.logs import Cadence
from localbatch.storage.needs import Need, NeedKind

#: Fast cadence so streaming tests wait on events, not on 30 s timers.
FAST = Cadence(interval=0.05, threshold=64, poll=0.01)


def make_config(tmp_path: Path, toml: str = "") -> Config:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    return load_config(path, env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss")


def tar_gz(
    members: dict[str, bytes], *, extra: Callable[[tarfile.TarFile], None] | None = None
) -> bytes:
    """A .tar.gz holding `members` (name -> bytes); `extra` may add crafted members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        if extra:
            extra(tar)
    return buffer.getvalue()


def task_body(**fields: Any) -> dict[str, Any]:
    parameters = {"Command": {"CommandLine": "python main.py", "PackagePath": ""}}
    parameters.update(fields.pop("Parameters", {}))
    return {"InstanceCount": 1, "Parameters": parameters, **fields}


def mapped_task(input_dir: str, output_dir: str, **overrides: Any) -> dict[str, Any]:
    """A task using every mapping: package, redirects, input, output and one LogMapping file."""
    return task_body(
        Parameters={
            "Command": {"CommandLine": "python main.py", "PackagePath": "oss://bkt/pkg/w.tar.gz"},
            "StdoutRedirectPath": "oss://bkt/logs/",
            "StderrRedirectPath": "oss://bkt/logs/",
        },
        InputMapping={"oss://bkt/in/": input_dir},
        OutputMapping={output_dir: "oss://bkt/out/"},
        LogMapping={"/var/log/app.log": "oss://bkt/applogs/"},
        **overrides,
    )


def job_storage(
    config: Config, tasks: dict[str, dict[str, Any]], job_id: str = "job-1"
) -> JobStorage:
    job = parse_job({"Name": "j", "DAG": {"Tasks": tasks}})
    return JobStorage(config, job_id, job, config.state_dir / "jobs" / job_id, cadence=FAST)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def overlay_mounts_under(root: Path) -> list[str]:
    """Mount points of overlays under `root`, as /proc/self/mounts lists them."""
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mounts") as table:
        rows = [line.split() for line in table]
    return [row[1] for row in rows if row[2] == "overlay" and (row[1] + "/").startswith(prefix)]


def unmount_all_under(root: Path) -> None:
    """Safety net for a failed test: leave no overlay mounted under its temporary dir."""
    from localbatch.storage.overlay import unmount

    for point in reversed(overlay_mounts_under(root)):
        unmount(Path(point))


def mapped(prepared: PreparedAttempt) -> tuple[Need, ...]:
    """What the program sees besides its package view, in storage's order."""
    return tuple(need for need in prepared.needs if need.kind is not NeedKind.PACKAGE)
