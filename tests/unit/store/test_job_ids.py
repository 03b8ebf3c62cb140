"""Job ids people type: `last`, unique prefixes with or without `job-`, any case."""

from __future__ import annotations

import pytest

from localbatch.spec.errors import ApiError
from localbatch.store import Store
from localbatch.store.job_ids import MAX_CANDIDATES, AmbiguousJobId, resolve_job_id
from tests.unit.store.conftest import JobFactory

FIRST = "job-0A1B2C3D4E5F60718293A4B5C6D7E8F9"
SECOND = "job-0A1BFFFF4E5F60718293A4B5C6D7E8F9"
THIRD = "job-77777777777777777777777777777777"


@pytest.fixture
def three(store: Store, make_job: JobFactory) -> Store:
    for created, job_id in enumerate((FIRST, SECOND, THIRD)):
        store.create_job(job_id, make_job(), created=float(created))
    return store


@pytest.mark.parametrize(
    ("typed", "job_id"),
    [
        (FIRST, FIRST),
        ("last", THIRD),
        ("7", THIRD),
        ("job-7777", THIRD),
        ("0a1b2", FIRST),
        ("JOB-0A1BF", SECOND),
        (SECOND.lower(), SECOND),
    ],
)
def test_a_typed_id_names_one_job(three: Store, typed: str, job_id: str) -> None:
    assert resolve_job_id(three, typed) == job_id


def test_an_ambiguous_prefix_lists_the_candidates(three: Store) -> None:
    with pytest.raises(AmbiguousJobId) as raised:
        resolve_job_id(three, "0A1B")
    assert raised.value.candidates == [SECOND, FIRST]
    assert str(raised.value) == f"'0A1B' matches 2 jobs: {SECOND}, {FIRST}; type more of the id"


def test_many_candidates_are_cut(store: Store, make_job: JobFactory) -> None:
    for n in range(MAX_CANDIDATES + 2):
        store.create_job(f"job-AB{n:030d}", make_job(), created=float(n))
    with pytest.raises(AmbiguousJobId, match=f"more than {MAX_CANDIDATES} jobs") as raised:
        resolve_job_id(store, "ab")
    assert len(raised.value.candidates) == MAX_CANDIDATES


@pytest.mark.parametrize("typed", ["job-", "", "8", "job-0A1BX", "lastly"])
def test_no_match_is_not_found(three: Store, typed: str) -> None:
    with pytest.raises(ApiError) as raised:
        resolve_job_id(three, typed)
    assert raised.value.code == "InvalidResource.NotFound"


def test_last_in_an_empty_store_is_not_found(store: Store) -> None:
    with pytest.raises(ApiError, match=r"InvalidResource\.NotFound"):
        resolve_job_id(store, "last")
