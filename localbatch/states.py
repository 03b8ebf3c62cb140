"""Job, task and instance states and the one table of legal moves.

No state strings outside this module: compare `State` members. An illegal move raises
`StateConflict`, which the HTTP API answers as 409 "User operation is invalid. The current
resource state is {State}."
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    WAITING = "Waiting"
    RUNNING = "Running"
    FINISHED = "Finished"
    FAILED = "Failed"
    STOPPED = "Stopped"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({State.FINISHED, State.FAILED, State.STOPPED})

#: Legal transitions of a job, a task or an instance. Stopped/Failed -> Waiting is a restart.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.WAITING: frozenset({State.RUNNING, State.STOPPED, State.FAILED, State.FINISHED}),
    State.RUNNING: frozenset({State.FINISHED, State.FAILED, State.STOPPED, State.WAITING}),
    State.FINISHED: frozenset(),
    State.FAILED: frozenset({State.WAITING}),
    State.STOPPED: frozenset({State.WAITING}),
}


class StateConflict(Exception):
    """A user operation (or a transition) that the current state does not allow."""

    def __init__(self, current: State) -> None:
        super().__init__(f"User operation is invalid. The current resource state is {current}.")
        self.current = current


def check_transition(current: State, new: State) -> None:
    if new != current and new not in TRANSITIONS[current]:
        raise StateConflict(current)


# User operations on a job (semantics.md, "States").
def check_can_stop(current: State) -> None:
    if current not in (State.WAITING, State.RUNNING):
        raise StateConflict(current)


def check_can_start(current: State) -> None:
    if current not in (State.STOPPED, State.FAILED):
        raise StateConflict(current)


def check_can_delete(current: State) -> None:
    if not current.terminal:
        raise StateConflict(current)


def check_can_change_priority(current: State) -> None:
    if current != State.STOPPED:
        raise StateConflict(current)
