"""Which jobs a state directory's store still records unfinished, read without writing.

Orphan clean-up asks this before removing a container whose owner died: a job recorded
Waiting or Running will be reconciled by the next `localbatch serve` (or `localbatch start
JOB`) on that state directory, which adopts its containers, so they must survive until
then. Each state directory named by a container is read once, read-only: another run's
store is never created or changed by looking.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from localbatch.states import State
from localbatch.store.db import DB_NAME

log = logging.getLogger(__name__)


def unfinished_job_ids(state_dir: Path) -> frozenset[str] | None:
    """Ids of the jobs recorded Waiting or Running; None when the store cannot be read."""
    path = state_dir / DB_NAME
    if not path.exists():
        return frozenset()
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            rows = conn.execute(
                "SELECT id FROM jobs WHERE state IN (?, ?)",
                (State.WAITING.value, State.RUNNING.value),
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.warning("cannot read the job store %s (%s): its containers are kept", path, exc)
        return None
    return frozenset(str(row[0]) for row in rows)


class UnfinishedJobs:
    """`KeepJob` for the Docker runtime: keep a container whose job its store left unfinished.

    A container labelled with no state directory (started before containers carried one)
    is judged by `own_state_dir`. A store that cannot be read keeps all its containers.
    """

    def __init__(self, own_state_dir: Path) -> None:
        self.own_state_dir = own_state_dir.resolve()
        self._read: dict[Path, frozenset[str] | None] = {}

    def __call__(self, state_dir: str, job_id: str) -> bool:
        where = Path(state_dir).resolve() if state_dir else self.own_state_dir
        if where not in self._read:
            self._read[where] = unfinished_job_ids(where)
        ids = self._read[where]
        return ids is None or job_id in ids
