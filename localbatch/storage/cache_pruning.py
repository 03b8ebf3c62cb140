"""Keeping the package cache under its size cap: least recently used first, never what is
in use.

Each cache entry `<cache>/<sha256>/` holds `manifest.json` (with the entry's unpacked
size), `last-used` (its mtime is when an attempt last took the entry) and `lock`. An
attempt holds a shared flock on `lock` from the moment it looks the entry up until it
ends; the kernel drops it if the process dies. Pruning takes the lock exclusively without
waiting, so an entry that any attempt of any process holds is skipped, and so is an entry
that an overlay mount still uses as its lower layer (an attempt adopted after its process
died has no lock, but its mount shows). A pruned entry is renamed away before it is
removed, so no new attempt links to it meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_ENTRY = re.compile(r"^[0-9a-f]{64}$")
LOCK_NAME = "lock"
LAST_USED_NAME = "last-used"


class Hold:
    """A shared lock on one cache entry: while held, pruning leaves the entry alone."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


def hold(entry: Path) -> Hold | None:
    """Hold `entry` and mark it used now; None when it is gone (pruned or evicted)."""
    try:
        fd = os.open(entry / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except (FileNotFoundError, NotADirectoryError):
        return None
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:  # the entry may have been renamed away between open and flock
        if os.fstat(fd).st_ino != os.stat(entry / LOCK_NAME).st_ino:
            raise FileNotFoundError(entry)
        (entry / LAST_USED_NAME).touch()
    except FileNotFoundError:
        os.close(fd)
        return None
    return Hold(fd)


@dataclass(frozen=True)
class _Entry:
    path: Path
    size: int
    last_used: float


def _entries(cache_dir: Path) -> list[_Entry]:
    found = []
    with contextlib.suppress(FileNotFoundError), os.scandir(cache_dir) as scan:
        for item in scan:
            if not _ENTRY.match(item.name):
                continue
            path = Path(item.path)
            try:
                manifest = json.loads((path / "manifest.json").read_text())
                size = int(manifest.get("size") or sum(f[1] for f in manifest["files"]))
                used = (path / LAST_USED_NAME).stat().st_mtime
            except (OSError, ValueError, KeyError, TypeError, IndexError):
                continue  # being written, or not an entry this version made: left alone
            found.append(_Entry(path, size, used))
    return found


def _mounted_lower_dirs() -> set[str]:
    """The lower layers of the overlays mounted now (from /proc/self/mountinfo)."""
    lowers: set[str] = set()
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as table:
        for line in table:
            _, _, tail = line.partition(" - ")
            fields = tail.split()
            if len(fields) < 3 or fields[0] != "overlay":
                continue
            for option in fields[2].split(","):
                if option.startswith("lowerdir="):
                    lowers.update(option.removeprefix("lowerdir=").split(":"))
    return lowers


def prune(cache_dir: Path, cap: int, keep: str = "") -> list[Path]:
    """Remove least recently used entries not in use (nor `keep`, the digest of the entry
    about to be used) until the cache holds at most `cap` bytes; answers what was removed
    (a warning says so when entries in use keep it over)."""
    entries = sorted(_entries(cache_dir), key=lambda e: e.last_used)
    total = sum(e.size for e in entries)
    if total <= cap:
        return []
    lowers = _mounted_lower_dirs()
    removed = []
    for entry in entries:
        if total <= cap:
            break
        if entry.path.name == keep or any(lower.startswith(f"{entry.path}/") for lower in lowers):
            continue
        if _remove_unless_held(entry.path, cache_dir):
            removed.append(entry.path)
            total -= entry.size
    if removed:
        log.info("package cache: pruned %d entries (cap %d bytes)", len(removed), cap)
    if total > cap:
        log.warning(
            "package cache %s holds %d bytes, over its cap of %d ([packages] cache_size): "
            "the rest is in use by running attempts",
            cache_dir,
            total,
            cap,
        )
    return removed


def _remove_unless_held(entry: Path, cache_dir: Path) -> bool:
    try:
        fd = os.open(entry / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # an attempt holds it
        doomed = cache_dir / f"evicted-{uuid.uuid4().hex}"
        try:
            os.rename(entry, doomed)
        except OSError:
            return False
    finally:
        os.close(fd)
    shutil.rmtree(doomed, ignore_errors=True)
    return True
