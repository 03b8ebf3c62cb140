"""What a Swarm task's state means for an attempt: waiting for a node, running, or ended,
and how (pure: the Engine API's task and node documents in, a judgement out).

Swarm tells the states of a task (new, pending, assigned, ..., running, complete, failed,
shutdown, rejected, orphaned) and the node it is on. An attempt's service never restarts
its task (restart condition none), so its one task says it all:

- before it runs: waiting for a node; `pending` with an error is Swarm's reason
  ("no suitable node (insufficient resources on 1 node)");
- `running`: placed (and ended as lost if its node is down: the node cannot report);
- `complete` / `failed` after the program ran: the program's exit code;
- `rejected`, or `failed` before the program ran: the node could not start it;
- `shutdown` / `orphaned` / `remove` without localbatch asking: Swarm took it away, because
  its node was drained or went down. That is `NODE_LOST`, which the engine retries within
  MaxRetryCount like any failure.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

#: Error code of an attempt whose node was drained or went down while it ran or waited.
NODE_LOST = "NodeLost"
#: Error code of an attempt a node could not start (its bind sources, its image).
NODE_REJECTED = "InstanceStartFailed"

#: Task states before the program runs.
BEFORE_RUNNING = frozenset(
    {"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting"}
)
#: What Swarm's error says when a started container's program exited non-zero.
NON_ZERO_EXIT = "task: non-zero exit"


class Phase(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    #: The program ran and exited (its exit code is the outcome).
    EXITED = "exited"
    #: The node could not start the program.
    REJECTED = "rejected"
    #: Swarm took the task away: its node was drained or went down.
    LOST = "lost"


@dataclass(frozen=True)
class TaskState:
    """One look at an attempt's task."""

    phase: Phase
    #: Why it waits, why it was rejected or lost (Swarm's words, the node named).
    reason: str = ""
    exit_code: int | None = None
    task_id: str = ""
    node_id: str = ""
    #: The node's host name and address, once the task has one.
    node_name: str = ""
    node_address: str = ""
    container_id: str = ""


def latest_task(tasks: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The service's current task (one, unless Swarm replaced it)."""
    if not tasks:
        return None
    return max(tasks, key=lambda task: (str(task.get("CreatedAt", "")), str(task.get("ID", ""))))


def _node_name(node: Mapping[str, Any] | None, node_id: str) -> str:
    if node is None:
        return node_id[:12]
    return str((node.get("Description") or {}).get("Hostname") or node_id[:12])


def judge(task: Mapping[str, Any] | None, node: Mapping[str, Any] | None) -> TaskState:
    """What one look at the task (and the node it was given) means for the attempt."""
    if task is None:
        return TaskState(Phase.WAITING)
    status = task.get("Status") or {}
    state = str(status.get("State", ""))
    node_id = str(task.get("NodeID", ""))
    name = _node_name(node, node_id) if node_id else ""
    container = status.get("ContainerStatus") or {}
    exit_code = container.get("ExitCode")
    where = TaskState(
        Phase.WAITING,
        task_id=str(task.get("ID", "")),
        node_id=node_id,
        node_name=name,
        node_address=str(((node or {}).get("Status") or {}).get("Addr", "")),
        container_id=str(container.get("ContainerID", "")),
        exit_code=int(exit_code) if isinstance(exit_code, int) else None,
    )
    err = str(status.get("Err") or "")
    node_state = str(((node or {}).get("Status") or {}).get("State", ""))
    if node_id and node_state == "down" and (state in BEFORE_RUNNING or state == "running"):
        return _replace(
            where, Phase.LOST, f"Its node {name} went down (Swarm lost contact with it)."
        )
    if state in BEFORE_RUNNING:
        return _replace(where, Phase.WAITING, err if state == "pending" else "")
    if state == "running":
        return _replace(where, Phase.RUNNING)
    if state == "complete":
        return replace(where, phase=Phase.EXITED, exit_code=0)
    if state == "failed" and err.startswith(NON_ZERO_EXIT):
        return _replace(where, Phase.EXITED, err)
    if state in ("failed", "rejected"):
        return _replace(where, Phase.REJECTED, f"Node {name or '?'} could not start it: {err}")
    return _replace(where, Phase.LOST, _taken_away(state, name, node, err))


def _taken_away(state: str, name: str, node: Mapping[str, Any] | None, err: str) -> str:
    """Why Swarm ended a task localbatch did not stop, the node named."""
    availability = str(((node or {}).get("Spec") or {}).get("Availability", ""))
    if availability == "drain":
        return f"Its node {name} was drained: Swarm stopped the instance there."
    if state == "orphaned":
        return f"Its node {name} was down too long: Swarm gave the instance up (orphaned)."
    detail = f": {err}" if err else ""
    return f"Swarm ended the instance on node {name or '?'} ({state}{detail})."


def _replace(state: TaskState, phase: Phase, reason: str = "") -> TaskState:
    return replace(state, phase=phase, reason=reason)
