"""The job store's one failure callers act on: it cannot be written (full, read-only, ours
not). Outside the store package, so that the CLI can name it without loading the store.

SQLite reports these as "database or disk is full", "disk I/O error", "attempt to write a
readonly database" or "unable to open database file"; `unwritable` turns them into one
`StoreUnwritable` that names the directory and the file system's own cause, so that every
surface can say it in one line (the CLI exits 2, the API answers 503, the event recorder
keeps the events until space is back). Other SQLite errors are left alone.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from localbatch.diskspace import NO_SPACE, explain

_SQLITE_PERM = 3
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_UNWRITABLE = frozenset(
    {_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN}
)


class StoreUnwritable(Exception):
    """The job store in `directory` cannot be written; `cause` says why, in a few words."""

    def __init__(self, directory: Path, cause: str) -> None:
        super().__init__(f"cannot write the job store in {directory}: {cause}")
        self.directory = directory
        self.cause = cause

    @property
    def full(self) -> bool:
        return self.cause == NO_SPACE


def unwritable(directory: Path, exc: BaseException) -> StoreUnwritable | None:
    """`exc` as a StoreUnwritable when it means the store cannot be written, else None."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None or code & 0xFF not in _UNWRITABLE:
            return None
        cause = NO_SPACE if code & 0xFF == _SQLITE_FULL else explain(directory, exc)
        return StoreUnwritable(directory, cause)
    if isinstance(exc, OSError):
        return StoreUnwritable(directory, explain(directory, exc))
    return None
