"""The persistent job store (SQLite under the state directory); records in `.records`."""

from localbatch.store.db import (
    DB_NAME,
    DuplicateToken,
    Store,
    body_digest,
    current_runner,
    runner_alive,
    runner_pid,
)
from localbatch.unwritable import StoreUnwritable

__all__ = [
    "DB_NAME",
    "DuplicateToken",
    "Store",
    "StoreUnwritable",
    "body_digest",
    "current_runner",
    "runner_alive",
    "runner_pid",
]
