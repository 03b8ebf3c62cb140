"""Why a directory cannot be written: full, read-only, or not ours to write.

SQLite says "disk I/O error" or "unable to open database file" for all of these, and a
program that runs out of space just exits 1; the file system itself knows better. Each
answer is a short cause for a one-line message ("no space left on device"), worded like
the system's own error strings.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

NO_SPACE = "no space left on device"
READ_ONLY = "read-only file system"
NOT_WRITABLE = "permission denied"
QUOTA = "disk quota exceeded"
#: Causes only a write can have (a failed copy names its destination for these).
WRITE_SIDE = (NO_SPACE, QUOTA, READ_ONLY)
#: Error code of an instance whose program or storage ran out of space (not "exit code 1").
DISK_FULL_CODE = "DiskFull"
_CAUSES = {
    errno.ENOSPC: NO_SPACE,
    errno.EDQUOT: QUOTA,
    errno.EROFS: READ_ONLY,
    errno.EACCES: NOT_WRITABLE,
    errno.EPERM: NOT_WRITABLE,
}


def existing(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists (where it would be created)."""
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def is_full(path: Path) -> bool:
    """Whether the file system holding `path` has no block left for this user."""
    try:
        stats = os.statvfs(existing(path))
    except OSError:
        return False
    return stats.f_bavail == 0


def unwritable_cause(path: Path) -> str:
    """Why nothing can be written under `path` ("" when nothing is visibly wrong)."""
    where = existing(path)
    try:
        stats = os.statvfs(where)
    except OSError as exc:
        return cause_of(exc)
    if stats.f_flag & os.ST_RDONLY:
        return READ_ONLY
    if stats.f_bavail == 0:
        return NO_SPACE
    if not os.access(where, os.W_OK | os.X_OK):
        return NOT_WRITABLE
    return ""


def cause_of(exc: BaseException) -> str:
    """The system's cause of an OSError (or of one it was raised from), "" if none."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _CAUSES:
            return _CAUSES[seen.errno]
        seen = seen.__cause__ or seen.__context__
    return ""


def explain(path: Path, exc: BaseException) -> str:
    """The best short cause for `exc` raised while writing under `path`: the system's own
    (an OSError's), else what the file system shows (SQLite names no cause), else `exc`."""
    if cause := cause_of(exc):
        return cause
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return unwritable_cause(path) or str(exc) or type(exc).__name__
