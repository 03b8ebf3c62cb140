"""Which process made a thing (a mount, a temporary file), told apart from a later process
that got the same pid: `<pid>-<start time>`, and whether that process still runs."""

from __future__ import annotations

import functools
import os

import psutil


@functools.cache
def _tag_of(pid: int) -> str:
    return f"{pid}-{psutil.Process(pid).create_time()!r}"


def this_process() -> str:
    """This process's tag (pids are reused, so the start time is part of it)."""
    return _tag_of(os.getpid())


def alive(tag: str) -> bool:
    """Whether the process a tag names still runs (False for a tag that names nothing)."""
    try:
        pid_text, started = tag.split("-", 1)
        return repr(psutil.Process(int(pid_text)).create_time()) == started
    except (ValueError, psutil.Error):
        return False
