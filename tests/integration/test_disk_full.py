"""A disk that fills during a run: the instance that hit it fails with DiskFull (its exit
code kept), not a bare "exit code 1", and the job still ends in the store.

`localbatch run` on the process sandbox, the state dir (where work directories live) on a
small tmpfs (root only, else skipped), the OSS root beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from localbatch.states import State
from localbatch.store import Store
from tests.integration.test_run_jobs import _job, _task

pytestmark = pytest.mark.sandbox


def test_an_instance_that_fills_the_disk_fails_with_disk_full(
    tmp_path: Path, small_disk: Callable[[Path, str], Path], bwrap_path: str
) -> None:
    state = small_disk(tmp_path / "state", "8m")
    job = tmp_path / "job.json"
    job.write_text(json.dumps(_job({"fill": _task("head -c 64000000 /dev/zero > big")})))
    done = subprocess.run(
        [
            *(sys.executable, "-m", "localbatch", "run", str(job), "--runtime", "process"),
            *("--state-dir", str(state), "--oss-root", str(tmp_path / "oss")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LOCALBATCH_CONFIG": str(tmp_path / "none.toml")},
        check=False,
    )
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "DiskFull" in done.stdout

    store = Store.open(state)
    try:
        record = store.list_jobs().items[0]
        assert record.state == State.FAILED
        instance = store.get_instance(record.id, "fill", 0)
        assert instance is not None and instance.state == State.FAILED
        assert instance.error_code == "DiskFull"
        assert instance.exit_code not in (None, 0)  # the program's own status is kept
        assert "no space left on device" in instance.error_message
        assert "exit code" in instance.error_message
    finally:
        store.close()
