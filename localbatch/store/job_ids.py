"""Job ids as people type them: `last` for the newest job, or any unique prefix of an id,
with or without its `job-`.

The service's ids are `job-` and 32 hex digits: nobody types that. Every command that takes
a job id resolves it here, against the store, before doing anything else; an unknown id is
the service's `InvalidResource.NotFound`, an ambiguous one names its candidates.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from localbatch.spec.errors import not_found
from localbatch.store.db import DB_NAME, Store, jobs_by_id_prefix

#: The word that names the newest job.
LAST = "last"
JOB_PREFIX = "job-"
#: Candidates listed for an ambiguous prefix.
MAX_CANDIDATES = 10


class AmbiguousJobId(Exception):
    """A prefix that more than one job id starts with."""

    def __init__(self, text: str, candidates: list[str]) -> None:
        shown = candidates[:MAX_CANDIDATES]
        count = f"more than {MAX_CANDIDATES}" if len(candidates) > MAX_CANDIDATES else len(shown)
        more = ", ..." if len(candidates) > MAX_CANDIDATES else ""
        super().__init__(
            f"{text!r} matches {count} jobs: {', '.join(shown)}{more}; type more of the id"
        )
        self.text = text
        self.candidates = shown


def resolve_job_id(store: Store, text: str) -> str:
    """The full id of the one job `text` names.

    Raises ApiError(InvalidResource.NotFound) when none does, AmbiguousJobId when several do.
    """
    if store.get_job(text) is not None:
        return text
    if text == LAST:
        newest = store.list_jobs(max_items=1).items
        if newest:
            return newest[0].id
        raise not_found(text)
    digits = text[len(JOB_PREFIX) :] if text.lower().startswith(JOB_PREFIX) else text
    if not digits:
        raise not_found(text)
    matches = store.job_ids_starting_with(JOB_PREFIX + digits, MAX_CANDIDATES + 1)
    if not matches:
        raise not_found(text)
    if len(matches) > 1:
        raise AmbiguousJobId(text, matches)
    return matches[0]


#: How long a look for completion waits for a writer's lock before it offers nothing.
CHOICES_BUSY_TIMEOUT = 0.2


def job_choices(state_dir: Path, prefix: str, limit: int) -> list[tuple[str, str, str]]:
    """(id, name, state) of at most `limit` jobs whose id begins with `prefix` (any case),
    newest first, read only: shell completion runs on every TAB, so it neither creates,
    upgrades nor waits on a store (sqlite3.Error when it cannot read one)."""
    uri = f"{(state_dir / DB_NAME).absolute().as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=CHOICES_BUSY_TIMEOUT)) as db:
        rows = jobs_by_id_prefix(db, "id, name, state", prefix, limit)
        return [(str(job_id), str(name), str(state)) for job_id, name, state in rows]
