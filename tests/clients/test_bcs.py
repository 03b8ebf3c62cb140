"""The official CLI (`bcs`, batchcompute-cli 1.7.7) against a real server on 127.0.0.1.

`bcs` always talks to batchcompute.<region>.aliyuncs.com and reads logs from
oss-<region>.aliyuncs.com; a `sitecustomize` put on PYTHONPATH for the `bcs` process only
redirects both to the local server and its OSS endpoint. HOME is a temporary directory, so
its `~/.batchcompute/cliconfig` is the test's own. `bcs` exits 0 even on errors, so every
check reads what it printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localbatch.runtime.fake import FakeStep
from localbatch.server.client import ApiClient
from localbatch.server.discovery import read_server_info
from tests.integration.serve_process import ServeProcess, eventually
from tests.unit.server.server_helpers import Api, make_body, start_api

pytestmark = pytest.mark.clients

#: The `bcs` installed beside this interpreter (the test venv).
BCS = shutil.which("bcs", path=str(Path(sys.executable).parent)) or shutil.which("bcs")
AK, SK = "bcs-key", "bcs-secret"

REDIRECT = """
import os


def _redirect():
    from batchcompute import Client
    import batchcompute_cli.util.client as client
    import batchcompute_cli.util.oss_client as oss_client

    port = int(os.environ["LOCALBATCH_TEST_API_PORT"])
    oss = os.environ["LOCALBATCH_TEST_OSS"]

    def api_endpoint(region):
        Client.register_region(region, "127.0.0.1", port)
        return "127.0.0.1"

    client._get_endpoint = api_endpoint
    oss_client.get_endpoint = lambda region: "http://" + oss


_redirect()
"""

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Bcs:
    api: Api
    run: Callable[..., str]

    def __call__(self, *args: str) -> str:
        return self.run(*args)


def _bcs_for(tmp_path: Path, api_port: str, oss_address: str) -> Callable[..., str]:
    """`bcs`, logged in, with its own HOME and its endpoints redirected to localbatch."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(REDIRECT)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": str(hook),
        "LOCALBATCH_TEST_API_PORT": api_port,
        "LOCALBATCH_TEST_OSS": oss_address,
    }

    def bcs(*args: str) -> str:
        assert BCS, "bcs is not installed (pip install batchcompute-cli==1.7.7)"
        done = subprocess.run(
            [BCS, *args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        return ANSI.sub("", done.stdout + done.stderr)

    bcs("set", "--ssl", "false")
    assert "login success" in bcs("login", "local", AK, SK)
    return bcs


@pytest.fixture
def bcs(tmp_path: Path) -> Iterator[Bcs]:
    api = start_api(
        tmp_path, env={"LOCALBATCH_ACCESS_KEY_ID": AK, "LOCALBATCH_ACCESS_KEY_SECRET": SK}
    )
    run = _bcs_for(tmp_path, str(api.stack.api.port), api.stack.oss_address)
    yield Bcs(api, run)
    api.stack.close()


def _job_file(tmp_path: Path, name: str = "bcs-job") -> Path:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(make_body(name=name, instances=2)))
    return path


def test_create_list_and_inspect(bcs: Bcs, tmp_path: Path) -> None:
    bcs.api.runtime.script("split", FakeStep(exit_code=0, stdout="hello from split 0\n"))
    created = bcs("cj", "-f", str(_job_file(tmp_path)))
    found = re.search(r"Job created: (job-[0-9A-F]{32})", created)
    assert found, created
    job_id = found.group(1)
    bcs.api.wait_state(job_id, "Finished")

    listing = bcs("j")
    assert job_id in listing and "bcs-job" in listing and "Finished" in listing

    detail = bcs("j", job_id)
    assert "State: Finished" in detail
    assert re.search(r"split\s*\|\s*Finished\s*\|\s*2 / 2", detail), detail
    assert re.search(r"merge\s*\|\s*Finished\s*\|\s*1 / 1", detail), detail

    instance = bcs("j", job_id, "split", "0")
    assert f"oss://bucket/logs/stdout.{job_id}.split.0" in instance
    assert "hello from split 0" in instance  # read from the local OSS endpoint
    assert "ERROR" not in instance


def test_validation_errors_are_printed_with_their_code(bcs: Bcs, tmp_path: Path) -> None:
    out = bcs("cj", "-f", str(_job_file(tmp_path, name="9-not-a-name")))
    assert "Job created" not in out
    assert "InvalidName" in out


def test_stop_restart_and_delete(bcs: Bcs, tmp_path: Path) -> None:
    bcs.api.runtime.script("split", FakeStep(hang=True), instance=0)
    created = bcs("cj", "-f", str(_job_file(tmp_path)))
    job_id = re.search(r"job-[0-9A-F]{32}", created).group(0)  # type: ignore[union-attr]

    assert "done" in bcs("sj", job_id, "-y")
    assert bcs.api.request("GET", f"/jobs/{job_id}").body["State"] == "Stopped"
    again = bcs("sj", job_id, "-y")
    assert "StateConflict" in again

    bcs.api.runtime.script("split", FakeStep(exit_code=0), instance=0)
    assert "done" in bcs("rj", job_id, "-y")
    bcs.api.wait_state(job_id, "Finished")

    assert "done" in bcs("dj", job_id, "-y")  # stops first, tolerating 409
    assert bcs.api.request("GET", f"/jobs/{job_id}").status == 404


def test_delete_of_a_running_job(bcs: Bcs, tmp_path: Path) -> None:
    bcs.api.runtime.script("split", FakeStep(hang=True))
    created = bcs("cj", "-f", str(_job_file(tmp_path)))
    job_id = re.search(r"job-[0-9A-F]{32}", created).group(0)  # type: ignore[union-attr]
    assert "done" in bcs("dj", job_id, "-y")
    assert bcs.api.request("GET", f"/jobs/{job_id}").status == 404


@pytest.mark.sandbox
def test_sub_uploads_a_package_and_runs_it(tmp_path: Path, default_rootfs: str) -> None:
    """`bcs sub -p` packs a folder, uploads it through the OSS endpoint, creates the job;
    a real `localbatch serve` (sandbox runtime) unpacks and runs it."""
    server = ServeProcess(
        tmp_path / "state",
        runtime="process",
        env={"LOCALBATCH_ACCESS_KEY_ID": AK, "LOCALBATCH_ACCESS_KEY_SECRET": SK},
    )
    try:
        info = read_server_info(tmp_path / "state")
        assert info is not None
        bcs = _bcs_for(tmp_path, server.url.rsplit(":", 1)[1], info.oss_address)
        bcs("set", "-o", "oss://bucket-c/bcs/", "-t", "ecs.sn1.medium")
        program = tmp_path / "prog"
        program.mkdir()
        (program / "run.sh").write_text('echo "package $BATCH_COMPUTE_DAG_INSTANCE_ID"\n')
        out = bcs("sub", "sh run.sh", "demo-sub", "-p", f"{program}/", "-n", "2", "-f")
        assert "Upload:" in out and "worker.tar.gz" in out
        job_id = re.search(r"Job created: (job-[0-9A-F]{32})", out).group(1)  # type: ignore[union-attr]
        client = ApiClient(server.url, AK, SK)
        eventually(
            lambda: client.request("GET", f"/jobs/{job_id}")["State"] not in ("Waiting", "Running")
        )
        assert client.request("GET", f"/jobs/{job_id}")["State"] == "Finished"
        assert "package 1" in bcs("j", job_id, "task", "1")  # read back through OSS
    finally:
        server.terminate()
