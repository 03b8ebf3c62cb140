"""Storage binds seen by a real program in the bubblewrap sandbox: read-only inputs, outputs
uploaded, logs named as the service names them, the package cache kept intact."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from localbatch.config import Config
from localbatch.runtime.base import AttemptSpec, run_attempt
from localbatch.runtime.process import ProcessRuntime
from tests.unit.storage.storage_helpers import job_storage, make_config, mapped_task, tar_gz, write

pytestmark = pytest.mark.sandbox

SCRIPT = """
cat /in/data.txt > /out/copy.txt
if (echo x > /in/new.txt) 2>/dev/null; then echo writable > /out/input-mode; \
else echo read-only > /out/input-mode; fi
echo corrupted >> conf.txt 2>/dev/null || true
mkdir -p /out/deep && echo nested > /out/deep/n.txt
echo to-stdout
echo to-stderr >&2
echo app line >> /var/log/app.log
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = make_config(tmp_path)
    write(config.oss.root / "bkt/pkg/w.tar.gz", tar_gz({"conf.txt": b"original\n"}))
    write(config.oss.root / "bkt/in/data.txt", "input data\n")
    return config


def test_a_program_sees_the_storage_layout(config: Config, bwrap_path: str) -> None:
    task = mapped_task("/in/", "/out/")
    storage = job_storage(config, {"t": task}, job_id="job-S")
    runtime = ProcessRuntime(bwrap_path)
    for instance in (0, 1):
        prepared = storage.prepare("t", instance, 0)
        spec = AttemptSpec(
            job_id="job-S",
            task_name="t",
            instance_id=instance,
            attempt=0,
            argv=("sh", "-c", SCRIPT),
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            needs=prepared.needs,
            stdout_path=prepared.stdout_path,
            stderr_path=prepared.stderr_path,
        )
        prepared.start_streaming()
        outcome = run_attempt(runtime, spec, 60, threading.Event())
        storage.finish(prepared)
        assert outcome.succeeded, outcome

        root = config.oss.root / "bkt"
        assert (root / "out/copy.txt").read_text() == "input data\n"
        assert (root / "out/input-mode").read_text() == "read-only\n"
        assert (root / "out/deep/n.txt").read_text() == "nested\n"
        assert not (root / "in/new.txt").exists()
        assert (root / f"logs/stdout.job-S.t.{instance}").read_text() == "to-stdout\n"
        assert (root / f"logs/stderr.job-S.t.{instance}").read_text() == "to-stderr\n"
        assert (root / f"applogs/app.log.job-S.t.{instance}").read_text() == "app line\n"

    # whatever the first program managed to write to its package file, the cache is intact
    fresh = storage.prepare("t", 2, 0)
    assert (fresh.workdir / "conf.txt").read_text() == "original\n"
    storage.finish(fresh)
