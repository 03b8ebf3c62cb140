"""The one transition table and the user-operation rules of semantics.md."""

from __future__ import annotations

import pytest

from localbatch.states import (
    State,
    StateConflict,
    check_can_change_priority,
    check_can_delete,
    check_can_start,
    check_can_stop,
    check_transition,
)


def test_terminal_states() -> None:
    assert {s for s in State if s.terminal} == {State.FINISHED, State.FAILED, State.STOPPED}


@pytest.mark.parametrize(
    ("rule", "allowed"),
    [
        (check_can_stop, {State.WAITING, State.RUNNING}),
        (check_can_start, {State.STOPPED, State.FAILED}),
        (check_can_delete, {State.FINISHED, State.FAILED, State.STOPPED}),
        (check_can_change_priority, {State.STOPPED}),
    ],
)
def test_user_operations(rule: object, allowed: set[State]) -> None:
    assert callable(rule)
    for state in State:
        if state in allowed:
            rule(state)
        else:
            with pytest.raises(StateConflict) as caught:
                rule(state)
            assert str(caught.value) == (
                f"User operation is invalid. The current resource state is {state.value}."
            )


def test_finished_is_final() -> None:
    for state in State:
        if state != State.FINISHED:
            with pytest.raises(StateConflict):
                check_transition(State.FINISHED, state)
    check_transition(State.STOPPED, State.WAITING)
    check_transition(State.WAITING, State.RUNNING)
