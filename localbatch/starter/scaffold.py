"""The starter job `localbatch init` writes: two tasks, the second reading what the first
wrote (OutputMapping -> InputMapping), run as several instances that each take the part
their BATCH_COMPUTE_DAG_INSTANCE_ID names; its worker source and sample input; and the
staging of the package and input into the OSS storage in use, so it runs at once.

Nothing is overwritten: if any file it would write exists, nothing is written.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from localbatch.storage.resolver import OssResolver
from localbatch.storage.transfer import publish_host_file

DEFAULT_BUCKET = "localbatch-jobs"
#: Instances of the `count` task, each counting one part `split` wrote.
COUNT_INSTANCES = 2
WORKER = ("split.py", "count.py")
INPUT = ("words.txt",)
#: Job names: the service's rule ([a-zA-Z_-][a-zA-Z0-9_-]*, at most 64 characters).
_NOT_NAME = re.compile(r"[^a-zA-Z0-9_-]+")
MAX_NAME = 64


class StarterExists(Exception):
    """Files `init` would write are there already; none was written."""

    def __init__(self, existing: list[Path]) -> None:
        super().__init__(
            f"{', '.join(map(str, existing))} already exist{'s' if len(existing) == 1 else ''}; "
            "nothing was written (init never overwrites: choose another directory)"
        )
        self.existing = existing


def job_name(directory: Path) -> str:
    """A job name from the directory's name (`my job` -> `my-job`; `2024` -> `job-2024`)."""
    name = _NOT_NAME.sub("-", directory.resolve().name).strip("-") or "first-job"
    if name[0].isdigit():
        name = f"job-{name}"
    return name[:MAX_NAME]


@dataclass(frozen=True)
class StarterJob:
    """Where the starter job lives on disk and in OSS (`oss://<bucket>/<name>/...`)."""

    directory: Path
    name: str
    bucket: str = DEFAULT_BUCKET

    def url(self, relative: str) -> str:
        return f"oss://{self.bucket}/{self.name}/{relative}"

    @property
    def job_file(self) -> Path:
        return self.directory / "job.json"

    @property
    def package(self) -> str:
        return self.url("worker.tar.gz")

    @property
    def results(self) -> str:
        return self.url("counts/")


def _task(
    starter: StarterJob, command: str, instances: int, mapped: tuple[str, str], **env: str
) -> dict[str, Any]:
    source, target = mapped
    return {
        "InstanceCount": instances,
        "MaxRetryCount": 0,
        "Timeout": 300,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
        "Parameters": {
            "Command": {"CommandLine": command, "PackagePath": starter.package, "EnvVars": env},
            "StdoutRedirectPath": starter.url("logs/"),
            "StderrRedirectPath": starter.url("logs/"),
        },
        "InputMapping": {starter.url(source): "/home/input/"},
        "OutputMapping": {"/home/output/": starter.url(target)},
    }


def job_body(starter: StarterJob) -> dict[str, Any]:
    """split (1 instance) deals the input's lines into parts; count (2 instances) counts
    the words of the part its instance id names."""
    return {
        "Name": starter.name,
        "Description": "Split text into parts, count the words of each part in parallel",
        "Type": "DAG",
        "JobFailOnInstanceFail": True,
        "DAG": {
            "Tasks": {
                "split": _task(
                    starter, "python3 split.py", 1, ("input/", "parts/"),
                    PARTS=str(COUNT_INSTANCES),
                ),
                "count": _task(starter, "python3 count.py", COUNT_INSTANCES, ("parts/", "counts/")),
            },
            "Dependencies": {"split": ["count"]},
        },
    }  # fmt: skip


def _template(folder: str, name: str) -> bytes:
    return resources.files("localbatch.starter").joinpath(folder, name).read_bytes()


def files(starter: StarterJob) -> dict[Path, bytes]:
    """Every file `write` creates, and its content."""
    written = {starter.job_file: (json.dumps(job_body(starter), indent=2) + "\n").encode()}
    for folder, names in (("worker", WORKER), ("input", INPUT)):
        for name in names:
            written[starter.directory / folder / name] = _template(folder, name)
    return written


def write(starter: StarterJob) -> list[Path]:
    """Write the job file, the worker source and the sample input; raises StarterExists
    (writing nothing) when any of them is there already."""
    planned = files(starter)
    existing = [path for path in planned if path.exists() or path.is_symlink()]
    if existing:
        raise StarterExists(existing)
    for path, content in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as handle:  # "x": never through a file created meanwhile
            handle.write(content)
    return list(planned)


def pack(paths: list[Path]) -> bytes:
    """A reproducible tar.gz of the files, at the archive's root (as `bcs sub -p` packs)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(paths):
            data = path.read_bytes()
            info = tarfile.TarInfo(path.name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def stage(starter: StarterJob, resolver: OssResolver) -> list[str]:
    """Upload the worker package and the input files from the starter's directory to where
    the job reads them (each object whole or not at all); answers the URLs written."""
    inputs = [(starter.directory / "input" / name, starter.url(f"input/{name}")) for name in INPUT]
    with tempfile.TemporaryDirectory(prefix="localbatch-init-") as scratch:
        package = Path(scratch) / "worker.tar.gz"
        package.write_bytes(pack([starter.directory / "worker" / name for name in WORKER]))
        for source, url in [(package, starter.package), *inputs]:
            publish_host_file(source, resolver.resolve(url))
    return [starter.package, *(url for _, url in inputs)]
