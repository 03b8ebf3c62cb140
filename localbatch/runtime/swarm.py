"""The swarm runtime: each attempt is one Docker Swarm service, placed by the swarm on any of
its nodes, through the Engine API of a manager (Docker SDK).

What it shares with the Docker runtime: the image choice, argv, environment, working
directory, init, labels (attempt and owner) and the log files. What differs, and why:

- the service is sized by the instance type exactly (reservation = limit) and Swarm
  places it; an attempt waits, Waiting, while no node holds it (`placement`, Swarm's reason);
- the program writes its log files itself, on shared storage (`swarm_service`);
- the image is referenced by digest (or id) as this manager has it, so every node runs
  the same one and a node never contacts a registry for an image it already has;
- stopping an attempt removes its service (Swarm's own SIGTERM, grace period, SIGKILL);
- an attempt whose node is drained or goes down ends `NodeLost` (`swarm_tasks`), retried
  by the engine within MaxRetryCount.

Services carry the owner labels of the Docker runtime, so services of dead runs are
removed at start-up (`cleanup_orphans`) and a restarted `serve` adopts running ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.utils

from localbatch.config import DEFAULT_DOCKER_IMAGE, SwarmSettings
from localbatch.runtime.base import (
    COMMAND_NOT_FOUND,
    START_FAILED,
    STOP_GRACE_SECONDS,
    AttemptHandle,
    AttemptOutcome,
    AttemptSpec,
    JobRefused,
    Node,
    Pending,
    RuntimeUnavailable,
    file_size,
)
from localbatch.runtime.docker import (
    ENGINE_ERRORS,
    LABEL_OWNER_HOST,
    LABEL_STATE_DIR,
    POOL_SIZE,
    SIGKILL_EXIT,
    STDERR_HEAD,
    KeepJob,
    classify_exit,
    container_probe,
    engine_address,
    find_cgroup,
    image_missing,
    image_problem_in,
    keeps_dead_run,
    labels_of,
    owner_alive,
    owner_labels,
    pull_image,
)
from localbatch.runtime.docker_programs import executables_in_image
from localbatch.runtime.engine_unreachable import unreachable_message
from localbatch.runtime.image_supply import (
    EngineSupply,
    ImageProblem,
    PreparationListener,
    TellsPreparation,
)
from localbatch.runtime.swarm_nodes import describe, eligible
from localbatch.runtime.swarm_probe import probe_nodes
from localbatch.runtime.swarm_service import (
    LOGS_UNWRITABLE,
    exec_failure,
    one_task,
    service_name,
    task_template,
)
from localbatch.runtime.swarm_tasks import NODE_LOST, Phase, TaskState, judge, latest_task
from localbatch.runtime.swarm_watch import TaskWatch
from localbatch.runtime.usage import Unmeasured, UsageProbe

log = logging.getLogger(__name__)

#: Services kept for debugging (ReserveOnFail) carry this label and are never removed as
#: orphans (`docker service rm` removes them).
LABEL_KEPT = "localbatch.kept"
#: Seconds a stopped attempt's task gets, beyond the grace period, to report its end.
STOP_REPORT_SECONDS = 10.0
_ENDED = (Phase.EXITED, Phase.REJECTED, Phase.LOST)


@dataclass(eq=False)
class SwarmHandle:
    """One attempt's service; `ref` is its id."""

    ref: str
    stderr_path: Path
    #: Where this attempt's stderr begins in the instance's file.
    stderr_offset: int
    argv0: str = ""
    memory_bytes: int = 0
    #: Where it was placed (host name and address, the node's id), once it was, and the
    #: container there.
    node: str = ""
    node_ip: str = ""
    node_id: str = ""
    container_id: str = ""
    #: The service's one task, once Swarm made it: followed after the service is removed.
    task_id: str = ""
    outcome: AttemptOutcome | None = None
    removed: bool = False


class SwarmRuntime:
    """Runs each attempt as a one-task Swarm service, sized by its instance type."""

    name = "swarm"
    uses_images = True

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        settings: SwarmSettings | None = None,
        pull: bool = False,
        default_image: str = DEFAULT_DOCKER_IMAGE,
        spare: Collection[str] = (),
        keep_job: KeepJob | None = None,
        state_dir: Path | None = None,
        stop_grace: float = STOP_GRACE_SECONDS,
        images: EngineSupply | None = None,
    ) -> None:
        self._client = client
        #: Brings images from the OSS-backed registry or image files into this manager's
        #: engine, as for the Docker runtime (other nodes need them too: see check_job).
        self.images = images
        self.settings = settings or SwarmSettings()
        self.pull = pull
        self.default_image = default_image
        #: Service ids orphan clean-up leaves alone (a restarted server adopts them).
        self.spare = frozenset(spare)
        self.keep_job = keep_job
        #: Seconds between SIGTERM and SIGKILL when an attempt is stopped (the service's
        #: stop grace period: fixed when the service is created).
        self.stop_grace = stop_grace
        self.orphans_removed: list[str] = []
        self.orphans_kept: list[str] = []
        self.owner_labels = owner_labels()
        if state_dir is not None:
            self.owner_labels[LABEL_STATE_DIR] = str(state_dir.resolve())
        self.tasks = TaskWatch(lambda: self.client, ENGINE_ERRORS)
        self._node_id = ""

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = docker.from_env(max_pool_size=POOL_SIZE)
            except docker.errors.DockerException as exc:
                raise RuntimeUnavailable(unreachable_message(engine_address(), exc)) from exc
        return self._client

    # -- is this a swarm manager? -------------------------------------------------------
    def swarm_info(self) -> dict[str, Any]:
        """The engine's Swarm section; RuntimeUnavailable unless it is an active manager."""
        try:
            swarm = dict(self.client.info().get("Swarm") or {})
        except ENGINE_ERRORS as exc:
            raise RuntimeUnavailable(unreachable_message(engine_address(), exc)) from exc
        if swarm.get("LocalNodeState") != "active":
            raise RuntimeUnavailable(
                f"the Docker Engine at {engine_address()} is not part of a swarm "
                f"(state: {swarm.get('LocalNodeState') or 'inactive'}): make it a manager with "
                "`docker swarm init` (one machine), or see docs/scale-out.md"
            )
        if not swarm.get("ControlAvailable"):
            raise RuntimeUnavailable(
                f"the Docker Engine at {engine_address()} is a swarm worker: run localbatch on a "
                "manager of the swarm (`docker node ls` there lists the nodes)"
            )
        return swarm

    def check(self) -> None:
        """An active manager answers; then remove the services of runs that died."""
        self.swarm_info()
        self.orphans_removed = self.cleanup_orphans()

    def version(self) -> str:
        return str(self.client.version().get("Version", "unknown"))

    def advertise_address(self) -> str:
        """This manager's address in the swarm (what other nodes reach it at)."""
        return str(self.swarm_info().get("NodeAddr", ""))

    # -- capacity -----------------------------------------------------------------------
    def nodes(self) -> tuple[Node, ...]:
        """The nodes instances may be placed on now: ready, active, matching constraints."""
        try:
            return tuple(eligible(self.client.api.nodes(), self.settings.constraints))
        except ENGINE_ERRORS as exc:
            raise RuntimeUnavailable(f"cannot list the swarm's nodes: {exc}") from exc

    def describe_nodes(self, nodes: tuple[Node, ...]) -> str:
        return describe(nodes)

    # -- before a job -------------------------------------------------------------------
    def check_job(self, shared: tuple[Path, ...], images: tuple[str, ...]) -> None:
        """JobRefused unless every eligible node sees `shared` as this host does and can
        run the job's images (one probe per image this manager has, or with the default
        image when it has none of them yet: an image it lacks fails the attempts with
        ImageNotFound, as on Docker, unless the image supply brings it in)."""
        nodes = self.nodes()
        if not nodes:
            raise JobRefused(
                "no node of the swarm may run instances (none is ready, active and matches "
                f"[swarm] constraints {list(self.settings.constraints)})"
            )
        problems: list[str] = []
        present = [self._image_reference(image) for image in dict.fromkeys(images)]
        references = [r for r in present if not isinstance(r, AttemptOutcome)]
        if not references:  # the files must be checked even when no job image is here yet
            references = [
                r for r in [self._image_reference(self.default_image)] if isinstance(r, str)
            ]
        for reference in references:
            try:
                problems += probe_nodes(
                    self.client,
                    shared,
                    reference,
                    constraints=self.settings.constraints,
                    labels=self.owner_labels,
                    expected=len(nodes),
                )
            except (*ENGINE_ERRORS, OSError) as exc:
                problems.append(f"the storage probe could not run: {exc}")
        if problems:
            raise JobRefused(
                "the swarm cannot run this job: "
                + "; ".join(dict.fromkeys(problems))
                + " (docs/scale-out.md, Shared storage)"
            )

    def tell_preparation(self, listener: PreparationListener) -> None:
        """Tell `listener` as an image is pulled from the OSS-backed registry or loaded from
        an image file into this manager's engine on first use (its supply does it)."""
        if isinstance(self.images, TellsPreparation):
            self.images.tell_preparation(listener)

    # -- the checks before a run (application.preflight) ----------------------------------
    def image_problem(self, image: str, env: Mapping[str, str]) -> str | None:
        """As on the Docker runtime, asked of this manager's engine: a service names the
        image as this manager has it (`_image_reference`), so that is where it must be."""
        return image_problem_in(self.client, image, env, self.images, self.pull, self.default_image)

    def executables(
        self, image: str, paths: Sequence[str], env: Mapping[str, str]
    ) -> frozenset[str] | None:
        """Which of `paths` are executable files in `image`, asked of this manager's copy
        of it (the one every node runs, by digest or id)."""
        return executables_in_image(self.client, image, paths, self.owner_labels)

    # -- one attempt ----------------------------------------------------------------------
    def _image_reference(self, image: str) -> str | AttemptOutcome:
        """How services name `image`: its digest in the registry its name is from, when it
        came from one (nodes without it can pull it), else its id (the same on every node
        it was loaded on; an image localbatch brought in from the OSS-backed registry or a
        file too, since that registry serves only this host); ImageNotFound when this
        manager lacks it (pulled first with --pull)."""
        try:
            try:
                info = self.client.api.inspect_image(image)
            except docker.errors.ImageNotFound:
                if not self.pull:
                    return image_missing(image, self.default_image)
                pulled = pull_image(self.client, image, self.default_image)
                if pulled is not None:
                    return pulled
                info = self.client.api.inspect_image(image)
        except docker.errors.ImageNotFound:
            return image_missing(image, self.default_image)
        except ENGINE_ERRORS as exc:
            return AttemptOutcome(None, START_FAILED, f"Docker could not look at {image}: {exc}")
        repository = docker.utils.parse_repository_tag(image)[0]
        digests = [str(d) for d in info.get("RepoDigests") or []]
        same_name = [d for d in digests if d.split("@")[0] == repository]
        return (same_name or [str(info["Id"])])[0]

    def start(self, spec: AttemptSpec) -> SwarmHandle | AttemptOutcome:
        """Create the attempt's service; an outcome when it cannot be created."""
        if not spec.image:
            return AttemptOutcome(None, "ImageNotFound", "No Docker image was given.")
        supplied = spec.image
        if self.images is not None:
            try:
                supplied = self.images.engine_image(self.client, spec.image, spec.env)
            except ImageProblem as exc:
                return AttemptOutcome(None, exc.code, exc.message)
        image = self._image_reference(supplied)
        if isinstance(image, AttemptOutcome):
            return image
        try:
            for path in (spec.stdout_path, spec.stderr_path):
                path.open("ab").close()  # bound into the container: it must exist
        except OSError as exc:
            return AttemptOutcome(None, START_FAILED, f"Cannot open the log files: {exc}")
        labels = labels_of(spec, self.owner_labels)
        template = task_template(
            spec,
            image,
            labels,
            constraints=self.settings.constraints,
            network=self.settings.network,
            stop_grace=self.stop_grace,
        )
        offset = file_size(spec.stderr_path)
        try:
            service = self.client.api.create_service(
                template, name=service_name(spec), labels=labels, mode=one_task()
            )
        except ENGINE_ERRORS as exc:
            return AttemptOutcome(None, START_FAILED, f"Swarm refused the service: {exc}")
        handle = SwarmHandle(
            ref=str(service["ID"]),
            stderr_path=spec.stderr_path,
            stderr_offset=offset,
            argv0=spec.argv[0] if spec.argv else "",
            memory_bytes=spec.memory_bytes,
        )
        self.tasks.watch(handle.ref)
        return handle

    def placement(self, handle: AttemptHandle, timeout: float) -> Pending | AttemptOutcome | None:
        """None once a node runs it (or ran it); Pending with Swarm's reason while none
        does; its outcome when a node could not start it or was lost before it ran."""
        assert isinstance(handle, SwarmHandle)
        state = self.tasks.wait_for(handle.ref, lambda s: s.phase is not Phase.WAITING, timeout)
        if state is None or state.phase is Phase.WAITING:
            return Pending(state.reason if state else "")
        handle.node, handle.node_ip = state.node_name, state.node_address
        handle.node_id, handle.container_id = state.node_id, state.container_id
        handle.task_id = state.task_id
        if state.phase in (Phase.RUNNING, Phase.EXITED):
            return None
        handle.outcome = self._outcome(handle, state)
        return handle.outcome

    def wait(self, handle: AttemptHandle, timeout: float | None) -> AttemptOutcome | None:
        assert isinstance(handle, SwarmHandle)
        if handle.outcome is not None:
            return handle.outcome
        if handle.removed:
            return self._end_after_removal(handle, timeout)
        state = self.tasks.wait_for(handle.ref, lambda s: s.phase in _ENDED, timeout)
        if state is None or state.phase not in _ENDED:
            return None
        handle.outcome = self._outcome(handle, state)
        return handle.outcome

    def _outcome(self, handle: SwarmHandle, state: TaskState) -> AttemptOutcome:
        """How the attempt ended, in the error codes the Docker runtime gives."""
        if state.phase is Phase.LOST:
            return AttemptOutcome(state.exit_code, NODE_LOST, state.reason)
        if state.phase is Phase.REJECTED:
            return _rejected(state.reason, handle.argv0)
        exit_code = state.exit_code if state.exit_code is not None else -1
        head = b""
        if exit_code in (126, 127, LOGS_UNWRITABLE):
            head = _read_head(handle.stderr_path, handle.stderr_offset)
        if exit_code in (126, 127) and exec_failure(head):
            return AttemptOutcome(
                exit_code,
                COMMAND_NOT_FOUND,
                f"{handle.argv0!r} could not be executed in the container: {exec_failure(head)}",
            )
        if exit_code == LOGS_UNWRITABLE and not head:
            return AttemptOutcome(
                exit_code,
                START_FAILED,
                f"Node {state.node_name} cannot write the instance's log files "
                f"({handle.stderr_path.parent}): the state directory must be shared storage "
                "every node writes to, at the same path.",
            )
        oom = exit_code == SIGKILL_EXIT and self._oom_killed(state.container_id)
        return classify_exit(exit_code, oom, handle.memory_bytes, b"", handle.argv0)

    def _oom_killed(self, container_id: str) -> bool:
        """Whether the kernel killed it for memory: only known for a task of this engine's
        node (other nodes' containers are not visible through this manager)."""
        try:
            return bool(self.client.api.inspect_container(container_id)["State"].get("OOMKilled"))
        except ENGINE_ERRORS:
            return False

    def usage_probe(self, handle: object, memory_limit: int, cpu_cores: float) -> UsageProbe:
        """What a task on this manager's own node uses, read from its container's cgroup as
        on the Docker runtime; a task on another node is not measured (said so)."""
        assert isinstance(handle, SwarmHandle)
        if handle.node_id != self._own_node():
            return Unmeasured(
                f"the task runs on node {handle.node}: its cgroup is on that node, out of "
                "this manager's reach"
            )
        pid, cgroup = find_cgroup(self.client, handle.container_id)
        return container_probe(handle.container_id, pid, cgroup, memory_limit, cpu_cores)

    def _own_node(self) -> str:
        """This engine's node id in the swarm (asked once)."""
        if not self._node_id:
            self._node_id = str(self.swarm_info().get("NodeID", ""))
        return self._node_id

    def terminate(self, handle: AttemptHandle) -> None:
        """Remove the service: its node sends the program SIGTERM, then SIGKILL after the
        service's stop grace period (`stop_grace`). The Engine API cannot signal a task's
        container on another node: removing the service is the one way to stop it."""
        assert isinstance(handle, SwarmHandle)
        if not handle.removed:
            self._remove(handle)

    def stop(self, handle: AttemptHandle, grace: float) -> None:
        """Remove the service (`terminate`); `grace` 0 kills at once a task of this
        manager's own node, whose container it reaches (on another node, Swarm's stop grace
        period still runs). Blocks until the task reported its end (its exit code is the
        outcome's), or for the grace period and `STOP_REPORT_SECONDS` more."""
        assert isinstance(handle, SwarmHandle)
        self.terminate(handle)
        if grace <= 0:
            self._kill_here(handle)
        self._end_after_removal(handle, max(grace, self.stop_grace) + STOP_REPORT_SECONDS)
        if handle.outcome is None:
            log.warning("service %s was removed; its task did not report its end", handle.ref[:12])

    def _kill_here(self, handle: SwarmHandle) -> None:
        """SIGKILL to the task's container when it runs on this manager's node."""
        if not handle.container_id or handle.node_id != self._own_node():
            return
        try:
            self.client.api.kill(handle.container_id)
        except ENGINE_ERRORS as exc:  # already ended, or gone with its service
            log.debug("SIGKILL to container %s: %s", handle.container_id[:12], exc)

    def _end_after_removal(
        self, handle: SwarmHandle, timeout: float | None
    ) -> AttemptOutcome | None:
        """The end of a removed service's task, as its node reports it, waiting up to
        `timeout` seconds; an outcome without exit code when the task is gone or never was."""
        if not handle.task_id:
            handle.outcome = AttemptOutcome(None)
            return handle.outcome
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            try:
                task = self.client.api.inspect_task(handle.task_id)
            except docker.errors.NotFound:  # its node reported it ended and Swarm let it go
                handle.outcome = AttemptOutcome(None)
                return handle.outcome
            except ENGINE_ERRORS as exc:
                log.warning("could not follow the stop of service %s: %s", handle.ref[:12], exc)
                return None
            ended = judge(task, None)
            if ended.phase in _ENDED:
                handle.outcome = AttemptOutcome(ended.exit_code)
                return handle.outcome
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(0.2, remaining))

    def _remove(self, handle: SwarmHandle) -> None:
        last = self.tasks.state(handle.ref)
        if last is not None and last.task_id:
            handle.task_id = last.task_id
        self.tasks.unwatch(handle.ref)
        handle.removed = True
        try:
            self.client.api.remove_service(handle.ref)
        except docker.errors.NotFound:
            pass
        except ENGINE_ERRORS as exc:
            log.warning("could not remove service %s (the next run will): %s", handle.ref[:12], exc)

    def release(self, handle: AttemptHandle, keep: bool) -> None:
        """Remove the service; with `keep` (ReserveOnFail) label it kept instead, so that
        its ended container stays on its node for inspection."""
        assert isinstance(handle, SwarmHandle)
        if keep and not handle.removed:
            self.tasks.forget(handle.ref)
            try:
                spec = self.client.api.inspect_service(handle.ref)
                labels = {**(spec["Spec"].get("Labels") or {}), LABEL_KEPT: "1"}
                self.client.api.update_service(
                    handle.ref, spec["Version"]["Index"], labels=labels, fetch_current_spec=True
                )
            except ENGINE_ERRORS as exc:
                log.warning("could not label service %s kept: %s", handle.ref[:12], exc)
            return
        if not handle.removed:
            self._remove(handle)
        self.tasks.forget(handle.ref)

    # -- recovery -----------------------------------------------------------------------------
    def cleanup_orphans(self) -> list[str]:
        """Remove the services of localbatch runs on this host whose owner process is gone,
        except kept ones, those in `spare`, and the placed ones `keeps_dead_run` keeps (a
        restarted `serve` adopts them; listed in `orphans_kept`). A service still waiting
        for a node is removed even then: its instance is recorded Waiting, and runs again."""
        self.orphans_kept = []
        try:
            services = self.client.api.services(filters={"label": LABEL_OWNER_HOST})
        except ENGINE_ERRORS as exc:
            raise RuntimeUnavailable(f"cannot list the swarm's services: {exc}") from exc
        dead = []
        for service in services:
            labels = (service.get("Spec") or {}).get("Labels") or {}
            if (
                LABEL_KEPT in labels
                or labels.get(LABEL_OWNER_HOST) != self.owner_labels[LABEL_OWNER_HOST]
            ):
                continue
            if owner_alive(labels) or service["ID"] in self.spare:
                continue
            dead.append((str(service["ID"]), labels))
        placed = self._placed({service_id for service_id, _ in dead})
        removed = []
        for service_id, labels in dead:
            if service_id in placed and keeps_dead_run(self.keep_job, labels):
                self.orphans_kept.append(service_id)
                continue
            try:
                self.client.api.remove_service(service_id)
                removed.append(service_id)
            except docker.errors.NotFound:
                pass
        return removed

    def _placed(self, services: set[str]) -> set[str]:
        """Those of `services` whose task a node runs or ran."""
        if not services:
            return set()
        tasks = self.client.api.tasks(filters={"service": sorted(services)})
        placed = set()
        for service_id in services:
            task = latest_task([t for t in tasks if t.get("ServiceID") == service_id])
            if judge(task, None).phase is not Phase.WAITING:
                placed.add(service_id)
        return placed

    def reattach(
        self,
        ref: str,
        stdout_path: Path | None = None,
        stderr_path: Path | None = None,
        *,
        begins_at: tuple[int, int] | None = None,
    ) -> SwarmHandle | None:
        """A handle on an attempt's service after a restart, or None if it is gone. Its
        program wrote its log files all along: nothing is to be copied."""
        try:
            service = self.client.api.inspect_service(ref)
        except docker.errors.NotFound:
            return None
        container = service["Spec"]["TaskTemplate"]["ContainerSpec"]
        resources = (service["Spec"]["TaskTemplate"].get("Resources") or {}).get("Limits") or {}
        command = container.get("Command") or []
        stderr = stderr_path or Path("/dev/null")
        offset = begins_at[1] if begins_at else file_size(stderr)
        handle = SwarmHandle(
            ref=str(service["ID"]),
            stderr_path=stderr,
            stderr_offset=offset,
            argv0=str(command[6]) if len(command) > 6 else "",
            memory_bytes=int(resources.get("MemoryBytes", 0)),
        )
        self.tasks.watch(handle.ref)
        return handle


def _read_head(path: Path, offset: int) -> bytes:
    """The first bytes this attempt wrote to its stderr file."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(STDERR_HEAD)
    except OSError:
        return b""


def _rejected(reason: str, argv0: str) -> AttemptOutcome:
    """A node could not start the attempt: the Docker runtime's code for each cause."""
    if "No such image" in reason:
        return AttemptOutcome(None, "ImageNotFound", reason)
    if "/bin/sh" in reason and ("no such file" in reason.lower() or "not found" in reason):
        return AttemptOutcome(
            127,
            COMMAND_NOT_FOUND,
            f"{argv0!r} could not be executed: the image has no /bin/sh, which the swarm "
            f"runtime runs each program through to write its log files ({reason})",
        )
    return AttemptOutcome(None, START_FAILED, reason)
