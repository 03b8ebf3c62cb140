"""Done-when of the OSS endpoint: an unchanged oss2 worker runs under `localbatch run`.

The worker lists, reads and writes OSS with oss2 at BATCH_COMPUTE_OSS_HOST; its write must
land in the OSS root. oss2 and its dependencies reach the instance the way BatchCompute
users ship libraries: an InputMapping (here of this virtual environment's site-packages,
which matches the image's Python 3.11). `python3 -S` keeps a host's system packages out of
the way of the mapped ones in the sandbox.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path
from typing import Any

import pytest

WORKER = b"""
import os
import oss2

key_id = os.environ.get("OSS_ACCESS_KEY_ID", "-")
auth = oss2.Auth(key_id, os.environ.get("OSS_ACCESS_KEY_SECRET", "-"))
bucket = oss2.Bucket(auth, "http://" + os.environ["BATCH_COMPUTE_OSS_HOST"], "work")
keys = [o.key for o in oss2.ObjectIterator(bucket, prefix="input/")]
total = sum(len(bucket.get_object(k).read()) for k in keys)
bucket.put_object("output/summary.txt", f"{len(keys)} files, {total} bytes".encode())
"""


def package() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("worker.py")
        info.size = len(WORKER)
        tar.addfile(info, io.BytesIO(WORKER))
    return buffer.getvalue()


def job() -> dict[str, object]:
    task = {
        "Parameters": {
            "Command": {
                "CommandLine": "python3 -S worker.py",
                "PackagePath": "oss://work/pkg/worker.tar.gz",
                "EnvVars": {"PYTHONPATH": "/oss-libs"},
            },
            "StdoutRedirectPath": "oss://work/logs/",
            "StderrRedirectPath": "oss://work/logs/",
        },
        "InputMapping": {"oss://pylibs/": "/oss-libs/"},
        "InstanceCount": 1,
        "MaxRetryCount": 0,
        "Timeout": 120,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
    }
    return {"Name": "oss2-worker", "Type": "DAG", "DAG": {"Tasks": {"t": task}}}


def run_worker(tmp_path: Path, runtime: str) -> Path:
    root = tmp_path / "oss"
    (root / "work" / "pkg").mkdir(parents=True)
    (root / "work" / "input").mkdir()
    (root / "work" / "input" / "a.txt").write_bytes(b"alpha\n")
    (root / "work" / "input" / "b.txt").write_bytes(b"beta\n")
    (root / "work" / "pkg" / "worker.tar.gz").write_bytes(package())
    (root / "pylibs").symlink_to(sysconfig.get_paths()["purelib"])
    (tmp_path / "job.json").write_text(json.dumps(job()))
    command = [sys.executable, "-m", "localbatch", "run", "--runtime", runtime]
    command += ["--state-dir", str(tmp_path / "state"), "--oss-root", str(root)]
    env = {**os.environ, "LOCALBATCH_CONFIG": str(tmp_path / "none.toml")}
    done = subprocess.run(
        [*command, str(tmp_path / "job.json")], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "work" / "output" / "summary.txt"


@pytest.mark.docker
def test_oss2_worker_under_localbatch_run_in_docker(
    tmp_path: Path, docker_client: Any, default_image: str
) -> None:
    assert run_worker(tmp_path, "docker").read_text() == "2 files, 11 bytes"


@pytest.mark.sandbox
def test_oss2_worker_under_localbatch_run_in_the_sandbox(
    tmp_path: Path, default_rootfs: str
) -> None:
    assert run_worker(tmp_path, "process").read_text() == "2 files, 11 bytes"
