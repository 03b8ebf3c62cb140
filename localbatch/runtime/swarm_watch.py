"""Watching the tasks of many attempt services with one look at a time.

One thread asks the manager for the tasks of every watched service, in one request per
interval however many attempts run, and for the nodes (whose state says whether a task's
node went down or was drained) once per `NODES_INTERVAL`; it judges each service's task
(`swarm_tasks.judge`). Attempts wait on what it saw (`wait_for`), never poll themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import docker
import docker.errors

from localbatch.runtime.swarm_tasks import Phase, TaskState, judge, latest_task

log = logging.getLogger(__name__)

#: Seconds between two looks at the watched services' tasks: what an attempt's start and
#: end are noticed late by, half of it on average (docs/benchmarks.md).
INTERVAL = 0.1
#: Seconds between two looks at the nodes.
NODES_INTERVAL = 1.0


class TaskWatch:
    """The latest judgement of each watched service's task, refreshed by one thread."""

    def __init__(
        self,
        client: Callable[[], docker.DockerClient],
        errors: tuple[type[BaseException], ...],
        interval: float = INTERVAL,
    ) -> None:
        self._client = client
        self._errors = errors
        self.interval = interval
        self._cond = threading.Condition()
        self._watched: set[str] = set()
        self._states: dict[str, TaskState] = {}
        self._thread: threading.Thread | None = None
        self._nodes: dict[str, Mapping[str, Any]] = {}
        self._nodes_seen = 0.0

    def watch(self, service_id: str) -> None:
        with self._cond:
            self._watched.add(service_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="swarm-tasks", daemon=True)
                self._thread.start()

    def unwatch(self, service_id: str) -> None:
        """Stop looking at the service (before it is removed: a missing service fails the
        look at all the others)."""
        with self._cond:
            self._watched.discard(service_id)

    def state(self, service_id: str) -> TaskState | None:
        with self._cond:
            return self._states.get(service_id)

    def forget(self, service_id: str) -> None:
        with self._cond:
            self._watched.discard(service_id)
            self._states.pop(service_id, None)

    def wait_for(
        self, service_id: str, done: Callable[[TaskState], bool], timeout: float | None
    ) -> TaskState | None:
        """The task's state once `done` holds for it, else its latest after `timeout`."""
        with self._cond:
            self._cond.wait_for(
                lambda: (s := self._states.get(service_id)) is not None and done(s), timeout
            )
            return self._states.get(service_id)

    # -- the thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                watched = sorted(self._watched)
                if not watched:
                    self._thread = None
                    return
            try:
                states = self._look(watched)
            except self._errors as exc:
                log.warning("looking at the swarm's tasks failed (trying again): %s", exc)
                states = {}
            with self._cond:
                self._states.update(
                    {sid: state for sid, state in states.items() if sid in self._watched}
                )
                self._cond.notify_all()
                self._cond.wait(self.interval)

    def _look(self, watched: list[str]) -> dict[str, TaskState]:
        client = self._client()
        try:
            tasks = client.api.tasks(filters={"service": watched})
        except docker.errors.NotFound:
            return self._look_one_by_one(watched)
        if time.monotonic() - self._nodes_seen >= NODES_INTERVAL:
            self._nodes = {str(n["ID"]): n for n in client.api.nodes()}
            self._nodes_seen = time.monotonic()
        nodes = self._nodes
        by_service: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for task in tasks:
            by_service[str(task.get("ServiceID", ""))].append(task)
        states = {}
        for service_id in watched:
            task = latest_task(by_service.get(service_id, []))
            node = nodes.get(str(task.get("NodeID", ""))) if task else None
            states[service_id] = judge(task, node)
        return states

    def _look_one_by_one(self, watched: list[str]) -> dict[str, TaskState]:
        """A watched service is gone (removed by someone else): say so for it, look at the
        others."""
        client = self._client()
        present, states = [], {}
        for service_id in watched:
            try:
                client.api.inspect_service(service_id)
                present.append(service_id)
            except docker.errors.NotFound:
                states[service_id] = TaskState(
                    Phase.LOST, "Its service was removed outside localbatch."
                )
        if present:
            states.update(self._look(present))
        return states
