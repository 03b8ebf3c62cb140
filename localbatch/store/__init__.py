"""The persistent job store (SQLite under the state directory); records in `.records`."""

from localbatch.store.db import DB_NAME, DuplicateToken, Store, body_digest, runner_alive

__all__ = ["DB_NAME", "DuplicateToken", "Store", "body_digest", "runner_alive"]
