"""Bind sources opened beneath their roots, and whether bwrap can take them open."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from localbatch.beneath import Escape
from localbatch.runtime.base import Bind
from localbatch.runtime.bind_sources import bwrap_binds_fds, open_source, opened_sources


def fake_bwrap(tmp_path: Path, help_text: str) -> str:
    script = tmp_path / "bwrap"
    script.write_text(f"#!/bin/sh\necho '{help_text}'\n")
    script.chmod(0o755)
    return str(script)


def test_a_bwrap_with_bind_fd_is_told_apart_from_an_older_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "new").mkdir()
    (tmp_path / "old").mkdir()
    new = fake_bwrap(tmp_path / "new", "    --bind-fd FD DEST  Bind open directory")
    old = fake_bwrap(tmp_path / "old", "    --bind SRC DEST  Bind mount")
    with caplog.at_level(logging.WARNING):
        assert bwrap_binds_fds(new)
        assert not bwrap_binds_fds(old)
        assert not bwrap_binds_fds(old)  # asked once, warned once
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and warnings[0].startswith(f"{old} has no --bind-fd")


def test_a_source_is_opened_beneath_its_root(tmp_path: Path) -> None:
    (tmp_path / "root/a").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    (tmp_path / "root/b").symlink_to("a")
    (tmp_path / "root/c").symlink_to(tmp_path / "out")
    fd = open_source(Bind(tmp_path / "root/b", "/x", root=tmp_path / "root"))
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == str(tmp_path / "root/a")
    finally:
        os.close(fd)
    with pytest.raises(Escape) as refused:
        open_source(Bind(tmp_path / "root/c", "/x", root=tmp_path / "root"))
    assert refused.value.filename == str(tmp_path / "root/c")


def test_opened_sources_are_closed_after_the_block_and_on_a_refusal(tmp_path: Path) -> None:
    (tmp_path / "root/a").mkdir(parents=True)
    (tmp_path / "root/out").symlink_to("/")
    binds = [Bind(tmp_path / "root/a", "/a", root=tmp_path / "root")]
    with opened_sources(binds) as fds:
        os.fstat(fds[0])
    with pytest.raises(OSError):
        os.fstat(fds[0])
    before = len(os.listdir("/proc/self/fd"))
    with (
        pytest.raises(Escape),
        opened_sources([*binds, Bind(tmp_path / "root/out", "/o", root=tmp_path / "root")]),
    ):
        pass
    assert len(os.listdir("/proc/self/fd")) == before
