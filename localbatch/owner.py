"""Which process made a thing (a mount, a temporary file, a container, a job's run), told
apart from a later process that got the same pid: `<pid>-<start mark>`, and whether that
process still runs.

The start mark is the kernel's start time in clock ticks since boot (`/proc/<pid>/stat`,
field 22), not a wall-clock time: psutil's `create_time()` adds the boot time as the clock
reads it now, so a clock step (NTP, a VM resumed) would make a live process look dead and
its mounts, containers and jobs be swept from under it.
"""

from __future__ import annotations

import functools
import os

import psutil

#: How far a start time recorded by an older localbatch (seconds since the epoch, with a
#: dot) may be from the process's own and still be the same process.
LEGACY_TOLERANCE_SECONDS = 1.0


def start_mark(pid: int) -> str:
    """The process's start time in clock ticks since boot (OSError when it does not run)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        # The command name (field 2) may hold spaces and parentheses: count after the last ")".
        fields = stat.read().rpartition(b")")[2].split()
    return fields[19].decode()


def started_as(pid: int, mark: str) -> bool:
    """Whether process `pid` runs and is the one whose start mark is `mark`."""
    try:
        if "." in mark:  # a time written by an older localbatch
            started = psutil.Process(pid).create_time()
            return bool(abs(started - float(mark)) < LEGACY_TOLERANCE_SECONDS)
        return start_mark(pid) == mark
    except (OSError, ValueError, IndexError, psutil.Error):
        return False


@functools.cache
def _mark_of(pid: int) -> str:
    return start_mark(pid)


def own_start_mark() -> str:
    """This process's start mark, read once (keyed by pid: a forked child reads its own)."""
    return _mark_of(os.getpid())


def this_process() -> str:
    """This process's tag (pids are reused, so the start mark is part of it)."""
    return f"{os.getpid()}-{own_start_mark()}"


def alive(tag: str) -> bool:
    """Whether the process a tag names still runs (False for a tag that names nothing)."""
    pid_text, _, mark = tag.partition("-")
    try:
        return started_as(int(pid_text), mark)
    except ValueError:
        return False
