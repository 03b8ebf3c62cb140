"""Temporary files named by their writer, so that those of dead processes can be swept.

Half-written uploads live under `.localbatch-upload-<pid>-<start time>-<random>` (in the
OSS root's `.localbatch-meta/tmp/`, or beside their target on another file system). A
writer removes its own on every failure; a process killed mid-write cannot, so whoever
starts on the same root next removes the ones whose process is gone (`sweep`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from pathlib import Path

from localbatch import owner

log = logging.getLogger(__name__)

#: Name prefix of temporary files; listings of the OSS root never show them.
TEMPORARY_PREFIX = ".localbatch-upload-"


def temporary_name() -> str:
    """A fresh temporary file name owned by this process."""
    return f"{TEMPORARY_PREFIX}{owner.this_process()}-{uuid.uuid4().hex}"


def writer_of(name: str) -> str | None:
    """The owner tag in a temporary name; None for a name this module did not make."""
    if not name.startswith(TEMPORARY_PREFIX):
        return None
    tag, _, random = name.removeprefix(TEMPORARY_PREFIX).rpartition("-")
    return tag if tag and len(random) == 32 else None


def sweep(directory: Path) -> int:
    """Remove the temporary files (or trees) in `directory` whose writer is gone."""
    removed = 0
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as entries:
        for entry in entries:
            tag = writer_of(entry.name)
            if tag is None or owner.alive(tag):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
            removed += 1
    if removed:
        log.warning(
            "removed %d temporary upload files left by dead processes in %s", removed, directory
        )
    return removed
