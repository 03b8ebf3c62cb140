"""Job ids as people type them: `last` for the newest job, or any unique prefix of an id,
with or without its `job-`.

The service's ids are `job-` and 32 hex digits: nobody types that. Every command that takes
a job id resolves it here, against the store, before doing anything else; an unknown id is
the service's `InvalidResource.NotFound`, an ambiguous one names its candidates.
"""

from __future__ import annotations

from localbatch.spec.errors import not_found
from localbatch.store.db import Store

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
