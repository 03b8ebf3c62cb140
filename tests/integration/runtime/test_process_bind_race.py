"""A bind source swapped for a link while the sandbox is made: the sandbox still binds the
directory that was checked, or nothing (docs/security.md, "Known limits")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localbatch.runtime.process import ProcessRuntime

from .conftest import Harness, mount_of, swap_after_open, swap_for_link_out

pytestmark = pytest.mark.sandbox


@pytest.fixture
def sandbox(process_runtime: ProcessRuntime, tmp_path: Path) -> Harness:
    (tmp_path / "workdir").mkdir()
    return Harness(process_runtime, "", tmp_path)


def test_a_source_swapped_after_it_was_opened_is_still_what_is_bound(
    sandbox: Harness, bucket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    swap_after_open(bucket, monkeypatch)  # between the open and bwrap's mount
    script = "cat /mnt/data/f; echo written > /mnt/data/new"
    outcome = sandbox.run(sandbox.spec("sh", "-c", script, needs=(mount_of(bucket),)))
    assert outcome.succeeded, outcome
    assert sandbox.stdout.read_text() == "inside\n"
    assert (bucket / "data.moved/new").read_text() == "written\n"
    assert sorted(os.listdir(bucket.parent / "outside")) == ["f"]


def test_a_source_swapped_for_a_link_out_before_it_is_opened_is_refused(
    sandbox: Harness, bucket: Path
) -> None:
    swap_for_link_out(bucket)  # after storage checked the path, before the runtime opens it
    outcome = sandbox.run(sandbox.spec("cat", "/mnt/data/f", needs=(mount_of(bucket),)))
    assert outcome.error_code == "InstanceStartFailed"
    assert outcome.error_message == (
        "A host path to bind leads outside its directory through a symbolic link: "
        f"{bucket / 'data'}"
    )
    assert outcome.exit_code is None  # nothing ran


def test_a_link_inside_the_root_is_followed(sandbox: Harness, bucket: Path) -> None:
    (bucket / "data").rename(bucket / "elsewhere")
    (bucket / "data").symlink_to("elsewhere")
    outcome = sandbox.run(sandbox.spec("cat", "/mnt/data/f", needs=(mount_of(bucket),)))
    assert outcome.succeeded, outcome
    assert sandbox.stdout.read_text() == "inside\n"
