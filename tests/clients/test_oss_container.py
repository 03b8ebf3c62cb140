"""A worker using oss2 inside a container reaches the endpoint on the Docker bridge.

The worker is unchanged BatchCompute code: it reads BATCH_COMPUTE_OSS_HOST, lists, reads
and writes with oss2, and its write lands in the OSS root. oss2 (and its dependencies) come
from this virtual environment, mounted read-only: the image has the same Python.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path
from typing import Any

import pytest

from localbatch.ossendpoint.for_instances import instance_endpoint
from localbatch.runtime.registry import instance_host
from tests.clients.oss_support import ACCESS_KEY_ID, ACCESS_KEY_SECRET, BUCKET

WORKER = """
import os, oss2
auth = oss2.Auth(os.environ["OSS_ACCESS_KEY_ID"], os.environ["OSS_ACCESS_KEY_SECRET"])
bucket = oss2.Bucket(auth, "http://" + os.environ["BATCH_COMPUTE_OSS_HOST"], "test-bucket")
keys = [o.key for o in oss2.ObjectIterator(bucket, prefix="input/")]
total = sum(len(bucket.get_object(k).read()) for k in keys)
bucket.put_object("output/summary.txt", f"{len(keys)} files, {total} bytes".encode())
print("done")
"""


@pytest.mark.docker
def test_oss2_worker_in_a_container(docker_client: Any, default_image: str, tmp_path: Path) -> None:
    root = tmp_path / "oss"
    (root / BUCKET / "input").mkdir(parents=True)
    (root / BUCKET / "input" / "a.txt").write_bytes(b"12345")
    (root / BUCKET / "input" / "b.txt").write_bytes(b"678")
    site_packages = sysconfig.get_paths()["purelib"]
    with instance_endpoint(instance_host("docker"), root, access_key_id=ACCESS_KEY_ID) as endpoint:
        assert not endpoint.host.startswith(("127.", "0.0.0.0"))
        output = docker_client.containers.run(
            default_image,
            ["python3", "-c", WORKER],
            environment={
                "BATCH_COMPUTE_OSS_HOST": endpoint.address,
                "OSS_ENDPOINT": endpoint.address,
                "OSS_ACCESS_KEY_ID": ACCESS_KEY_ID,
                "OSS_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
                "PYTHONPATH": "/oss-libs",
            },
            volumes={site_packages: {"bind": "/oss-libs", "mode": "ro"}},
            remove=True,
            stdout=True,
            stderr=True,
        )
    assert b"done" in output
    summary = root / BUCKET / "output" / "summary.txt"
    assert summary.read_text() == "2 files, 8 bytes"
