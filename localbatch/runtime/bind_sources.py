"""Bind sources opened before bubblewrap mounts them, so a path cannot be swapped meanwhile.

A bind source under a bucket or NAS directory is a path that instances of other jobs with
a writable mount of that directory can change: checked when storage prepared it, it could
be a link to `/etc` by the time bwrap resolves it. So each source is opened here (beneath
its root, `localbatch.beneath`: a link leading out is refused) and bwrap is given the open
file (`--bind-fd`, `--ro-bind-fd`, bubblewrap 0.8.0 and later). bwrap mounts the file's
current name and then compares the mount with the open file (device and inode): it mounts
what was opened, or fails ("Race condition binding dirfd"), never something else.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import subprocess
from collections.abc import Iterator, Sequence

from localbatch.beneath import Escape, Root
from localbatch.runtime.base import START_FAILED, WORKDIR, AttemptOutcome, AttemptSpec, Bind

log = logging.getLogger(__name__)


@functools.cache
def bwrap_binds_fds(bwrap: str) -> bool:
    """Whether this bwrap takes `--bind-fd` (asked once per binary); without it binds go by
    path, and a warning says so once."""
    try:
        result = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=30)
        found = "--bind-fd" in result.stdout + result.stderr
    except (OSError, subprocess.TimeoutExpired):
        found = False
    if not found:
        log.warning(
            "%s has no --bind-fd (bubblewrap 0.8.0 and later have it): binds are given to it "
            "by path, so an instance of another job with a writable mount of the same bucket "
            "could swap a directory on such a path for a link before the sandbox mounts it",
            bwrap,
        )
    return found


def placed_binds(spec: AttemptSpec) -> tuple[Bind, ...]:
    """What a container or sandbox binds: the work directory, then the attempt's binds
    parents before children (so, in bwrap's order, a bind inside another stays visible)."""
    ordered = sorted(spec.binds, key=lambda b: b.target.rstrip("/").count("/"))
    return (Bind(spec.workdir, WORKDIR, read_only=False), *ordered)


def escape_outcome(exc: Escape) -> AttemptOutcome:
    """The attempt's end when a bind source was swapped for a link out before it was opened."""
    return AttemptOutcome(
        None,
        START_FAILED,
        f"A host path to bind leads outside its directory through a symbolic link: {exc.filename}",
    )


def open_source(bind: Bind) -> int:
    """The bind's source, opened O_PATH: beneath its root when it has one (a link leading
    out raises `beneath.Escape`), else by its path (localbatch's own)."""
    if bind.root is None:
        return os.open(bind.source, os.O_PATH | os.O_CLOEXEC)
    try:
        return Root(bind.root).open(str(bind.source.relative_to(bind.root)), os.O_PATH)
    except Escape:
        raise Escape(str(bind.source)) from None


@contextlib.contextmanager
def opened_sources(binds: Sequence[Bind]) -> Iterator[list[int]]:
    """Each bind's source open (in order) while the block runs, closed after it."""
    fds: list[int] = []
    try:
        for bind in binds:
            fds.append(open_source(bind))
        yield fds
    finally:
        for fd in fds:
            os.close(fd)
