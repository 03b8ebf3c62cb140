"""The catalogue and ApiError: statuses of the codes beside the table, wire body, equality."""

from __future__ import annotations

import pytest

from localbatch.spec.errors import (
    CATALOGUE,
    ApiError,
    forbidden,
    internal_error,
    not_found,
    quota_exhausted,
    state_conflict,
)
from localbatch.states import State


@pytest.mark.parametrize(
    ("entry", "status"),
    [
        ("BadDAG", 400),
        ("InvalidUrlPattern", 400),
        ("MethodNotAllowed", 400),
        ("InvalidVersion.NotFound", 403),
        ("InvalidQueryString", 403),
        ("Forbidden", 403),
        ("InvalidResource.NotFound", 404),
        ("StateConflict", 409),
        ("InternalError", 500),
    ],
)
def test_codes_beside_the_table(entry: str, status: int) -> None:
    assert CATALOGUE[entry].http_status == status
    assert CATALOGUE[entry].code == entry


def test_helpers_fill_the_templates() -> None:
    assert state_conflict(State.RUNNING).to_body() == {
        "Code": "StateConflict",
        "Message": "User operation is invalid. The current resource state is Running.",
    }
    assert not_found("job-1").message == "Specified resource job-1 is not found."
    assert (not_found("x").http_status, internal_error().http_status) == (404, 500)
    assert forbidden().code == "Forbidden" and forbidden("bad date").message == "bad date"
    error = quota_exhausted("MaxJobCount", 7)
    assert (error.http_status, error.code, error.message) == (
        403,
        "QuotaExhausted.MaxJobCount",
        "The MaxJobCount (7) quota is exhausted.",
    )


def test_api_error_is_an_exception_and_a_value() -> None:
    error = ApiError.from_catalogue("Missing", "DAG.Tasks", Parameter="Tasks")
    assert str(error) == "400 MissingTasks: Tasks is mandatory for this action."
    assert error == ApiError(
        400, "MissingTasks", "Tasks is mandatory for this action.", "DAG.Tasks"
    )
    assert error != ApiError(400, "MissingTasks", "Tasks is mandatory for this action.")
    assert len({error, ApiError.from_catalogue("Missing", "DAG.Tasks", Parameter="Tasks")}) == 1
    assert error.to_dict()["Path"] == "DAG.Tasks"
    with pytest.raises(ApiError):
        raise error
