"""A fake runtime on a pretend cluster: nodes, a pre-run check, and attempts that wait for a
node until the test places them (what the swarm runtime adds to the protocol)."""

from __future__ import annotations

import threading
from pathlib import Path

from localbatch.runtime.base import AttemptHandle, JobRefused, Node, Pending
from localbatch.runtime.fake import FakeRuntime, FakeStep

GIB = 2**30


class ClusterFake(FakeRuntime):
    """Attempts wait with `reason` until `place()`; `refuse` makes check_job refuse."""

    name = "fake"

    def __init__(self, default: FakeStep | None = None, *, nodes: tuple[Node, ...] = ()) -> None:
        super().__init__(default)
        self.cluster = nodes or (Node("a", 2, 4 * GIB), Node("b", 4, 8 * GIB))
        self.reason = ""
        self.placed = threading.Event()
        self.placed.set()
        self.checked: list[tuple[tuple[Path, ...], tuple[str, ...]]] = []
        self.refuse = ""

    def hold(self, reason: str) -> None:
        """Attempts started from now on wait, saying `reason`, until `place()`."""
        self.reason = reason
        self.placed.clear()

    def place(self) -> None:
        self.placed.set()

    def nodes(self) -> tuple[Node, ...]:
        return self.cluster

    def describe_nodes(self, nodes: tuple[Node, ...]) -> str:
        return f"cluster of {len(nodes)} nodes"

    def check_job(self, shared: tuple[Path, ...], images: tuple[str, ...]) -> None:
        self.checked.append((shared, images))
        if self.refuse:
            raise JobRefused(self.refuse)

    def placement(self, handle: AttemptHandle, timeout: float) -> Pending | None:
        if self.placed.wait(timeout):
            return None
        return Pending(self.reason)
