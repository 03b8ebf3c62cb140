"""The Docker runtime: one container per attempt, through the Engine API (Docker SDK).

No CLI subprocesses and no helper containers started (the checks before a run create one
container per image, never started, to look for programs: `docker_programs`). Every
container carries labels naming its job, task, instance, attempt and owning process, so a
later run can remove the orphans of a run that died (`cleanup_orphans`) and a restarted
server can find its containers again (`reattach`). Docker errors are translated into
`AttemptOutcome`s here, at the edge.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import re
import socket
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import docker
import docker.errors
import docker.types
import requests.exceptions

from localbatch.beneath import Escape
from localbatch.config import DEFAULT_DOCKER_IMAGE
from localbatch.owner import own_start_mark, started_as
from localbatch.runtime.base import (
    COMMAND_NOT_FOUND,
    LABEL_ATTEMPT,
    LABEL_INSTANCE,
    LABEL_JOB,
    LABEL_TASK,
    OUT_OF_MEMORY,
    START_FAILED,
    WORKDIR,
    AttemptHandle,
    AttemptOutcome,
    AttemptSpec,
    Bind,
    RuntimeUnavailable,
    attempt_labels,
    file_size,
)
from localbatch.runtime.bind_sources import escape_outcome, placed_binds
from localbatch.runtime.cgroups import CgroupDirs, process_dirs
from localbatch.runtime.docker_binds import PrivateBinds, engine_shares_mounts
from localbatch.runtime.docker_programs import executables_in_image
from localbatch.runtime.engine_unreachable import unreachable_message
from localbatch.runtime.image_supply import (
    ChecksBroughtImages,
    EngineSupply,
    ImageProblem,
    PreparationListener,
    TellsPreparation,
)
from localbatch.runtime.images import how_to_get, image_present
from localbatch.runtime.usage import (
    CGROUP_INTERVAL,
    ENDED_TOO_SOON,
    CgroupProbe,
    ProcessTreeProbe,
    Unmeasured,
    UsageProbe,
)

LABEL_OWNER_PID = "localbatch.owner-pid"
#: The owner's process start time, so a recycled pid is not mistaken for a live owner.
LABEL_OWNER_STARTED = "localbatch.owner-started"
#: Only containers started from this host are judged by pid (a remote engine may be shared).
LABEL_OWNER_HOST = "localbatch.owner-host"
#: The state directory of the run that started the container: whose store knows its job.
LABEL_STATE_DIR = "localbatch.state-dir"
#: Containers kept for debugging (ReserveOnFail) are renamed with this prefix and never
#: removed as orphans.
KEPT_PREFIX = "localbatch-kept-"
log = logging.getLogger(__name__)
#: Connections to the engine: each running attempt holds one for its output stream.
POOL_SIZE = 64
#: How long release() waits for the log stream to drain after the container ended.
LOG_DRAIN_SECONDS = 10.0

#: How the container's init (docker-init, tini) reports a program it could not execute.
INIT_EXEC_FAILED = "[FATAL tini"
#: Bytes of the program's stderr kept to recognise that report.
STDERR_HEAD = 512
SIGKILL_EXIT = 137
#: What the Engine's attach answers: (stdout chunk, stderr chunk) pairs.
_Chunk = tuple[bytes | None, bytes | None]
_Stream = Iterator[_Chunk]
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
#: What a container's figures are and leave out: peak memory is its working set, as
#: `docker stats` shows it (the kernel's high-water mark counts page cache, which the kernel
#: drops before it kills for memory); Docker removes its cgroup the moment it exits.
LAST_READING_NOTE = (
    "peak memory is the largest working set read (memory in use less the inactive file "
    "cache, as docker stats counts it), read every {interval:g} s, so a shorter spike can "
    "be missed; Docker removes a container's cgroup as it exits: the figures are its last "
    "reading, at most {interval:g} s before the end"
)


#: The attempt's end when its container cannot be followed (or its output read back).
INSTANCE_LOST = "InstanceLost"


class OutputUnreadable(Exception):
    """The engine did not give back all a container wrote: its log files would miss part of
    it, so the attempt cannot be reported as it ended."""


@dataclass(eq=False)
class DockerHandle:
    """One started container; `ref` is its id."""

    ref: str
    done: threading.Event = field(default_factory=threading.Event)
    outcome: AttemptOutcome | None = None
    watcher: threading.Thread | None = None
    #: The container's main process on this host (0: not known, or it already ended) and
    #: its cgroups, found as it starts: they go away the moment it exits.
    pid: int = 0
    cgroup: CgroupDirs | None = None


#: Whether a dead owner's container must be kept: (its state dir label, its job id) -> keep.
#: Given by the surfaces, which know the stores (a job still unfinished there is adopted).
#: Without one, a container naming a state dir is kept: only that store can tell.
KeepJob = Callable[[str, str], bool]


def owner_labels() -> dict[str, str]:
    """Labels naming the process that starts a container or service, so that a later run
    tells a live owner's from a dead one's (`owner_alive`)."""
    return {
        LABEL_OWNER_PID: str(os.getpid()),
        LABEL_OWNER_STARTED: own_start_mark(),
        LABEL_OWNER_HOST: socket.gethostname(),
    }


def owner_alive(labels: dict[str, str]) -> bool:
    try:
        pid = int(labels.get(LABEL_OWNER_PID, ""))
    except ValueError:
        return False
    return started_as(pid, labels.get(LABEL_OWNER_STARTED, ""))


def find_cgroup(client: docker.DockerClient, container_id: str) -> tuple[int, CgroupDirs | None]:
    """The container's main process and cgroups, when its engine runs on this host (asked
    while it runs: one that already ended has none); (0, None) otherwise."""
    try:
        pid = int(client.api.inspect_container(container_id)["State"]["Pid"] or 0)
    except (*ENGINE_ERRORS, KeyError, ValueError):
        return 0, None
    cgroup = process_dirs(pid) if pid else None
    if cgroup is not None and all(container_id in str(d) for d in cgroup.dirs.values()):
        return pid, cgroup
    return pid, None


def container_probe(
    container_id: str, pid: int, cgroup: CgroupDirs | None, memory_limit: int, cpu_cores: float
) -> UsageProbe:
    """A running container's probe (`find_cgroup` found `pid` and `cgroup`): its cgroup
    (its working set), else its process tree, else nothing, said why."""
    if cgroup is not None:
        note = LAST_READING_NOTE.format(interval=CGROUP_INTERVAL)
        return CgroupProbe(cgroup, memory_limit, cpu_cores, False, note, working_set=True)
    if pid and _runs_here(pid, container_id):
        return ProcessTreeProbe(pid, memory_limit, cpu_cores, "no CPU quota counter")
    if not pid and engine_address().startswith("unix://"):
        return Unmeasured(ENDED_TOO_SOON)
    return Unmeasured(
        f"the container's cgroup and processes are not visible from this host "
        f"(Docker engine at {engine_address()})"
    )


def _runs_here(pid: int, container_id: str) -> bool:
    """Whether `pid` of this host is the container's (an engine elsewhere has its own pids)."""
    try:
        return container_id in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


def _command_not_found(explanation: str) -> bool:
    text = explanation.lower()
    return "executable file not found" in text or "no such file or directory" in text


def _safe_name(*parts: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "_", ".".join(parts))


def labels_of(spec: AttemptSpec, owner: dict[str, str]) -> dict[str, str]:
    """What a container or service of an attempt is labelled with: its attempt and owner."""
    return {
        **spec.labels,
        **attempt_labels(spec.job_id, spec.task_name, spec.instance_id, spec.attempt),
        **owner,
    }


def image_missing(image: str, default_image: str) -> AttemptOutcome:
    """ImageNotFound for an image the engine lacks, saying how to get it."""
    return AttemptOutcome(
        exit_code=None,
        error_code="ImageNotFound",
        error_message=(
            f"The image {image} is not in the local Docker engine (localbatch never pulls "
            f"unless run with --pull): {how_to_get(image, default_image=default_image)}."
        ),
    )


def pull_image(
    client: docker.DockerClient, image: str, default_image: str
) -> AttemptOutcome | None:
    """Pull `image` (only with --pull); an ImageNotFound outcome when that fails."""
    try:
        client.images.pull(image)
    except ENGINE_ERRORS as exc:
        missing = image_missing(image, default_image)
        return AttemptOutcome(
            None, missing.error_code, f"Pulling {image} failed ({exc}). {missing.error_message}"
        )
    return None


def image_problem_in(
    client: docker.DockerClient,
    image: str,
    env: Mapping[str, str],
    images: EngineSupply | None,
    pull: bool,
    default_image: str,
) -> str | None:
    """Why an attempt of `image` could not start on this engine, found without bringing
    anything: a registry or file image the supply `images` cannot bring, any other one
    missing from the engine (unless `pull`)."""
    if not image:
        return "no Docker image was given"

    def in_engine(name: str) -> str | None:
        if pull:
            return None
        try:
            if image_present(client, name):
                return None
        except ENGINE_ERRORS as exc:
            return f"the Docker engine could not be asked about {name}: {exc}"
        return image_missing(name, default_image).error_message

    if isinstance(images, ChecksBroughtImages):
        return images.brought_problem(image, env, in_engine)
    return in_engine(image)


def keeps_dead_run(keep_job: KeepJob | None, labels: Mapping[str, str]) -> bool:
    """Whether a dead owner's container (or service) stays: `keep_job` says, from the store
    of its state dir. A runtime without that rule (a benchmark, a tool) keeps every one
    naming a state dir: one of a job left unfinished is adopted by the next `serve` or
    `start` there, maybe at this very moment, and removing it loses its output."""
    state_dir = labels.get(LABEL_STATE_DIR, "")
    if keep_job is None:
        return bool(state_dir)
    return keep_job(state_dir, labels.get(LABEL_JOB, ""))


def engine_address() -> str:
    """Where the Docker SDK looks for the engine (DOCKER_HOST, else the default socket)."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


class DockerRuntime:
    """Runs each attempt in its own container, sized by the instance type."""

    name = "docker"
    uses_images = True

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        pull: bool = False,
        default_image: str = DEFAULT_DOCKER_IMAGE,
        network_mode: str = "bridge",
        spare: Collection[str] = (),
        keep_job: KeepJob | None = None,
        state_dir: Path | None = None,
        images: EngineSupply | None = None,
    ) -> None:
        self._client = client
        #: Brings images from the OSS-backed registry or image files into the engine.
        self.images = images
        #: Container ids orphan clean-up leaves alone (a restarted server adopts them).
        self.spare = frozenset(spare)
        #: Jobs whose containers orphan clean-up leaves alone though their owner died.
        self.keep_job = keep_job
        self.pull = pull
        self.default_image = default_image
        self.network_mode = network_mode
        self.host_cores = os.cpu_count() or 1
        #: Ids of the orphans the last check() removed (reported by the caller).
        self.orphans_removed: list[str] = []
        #: Ids of the dead owners' containers the last check() kept for `keep_job`.
        self.orphans_kept: list[str] = []
        self.owner_labels = owner_labels()
        #: Where bind sources are pinned (opened, then mounted privately) for the engine;
        #: None: they are given to it by path (`docker_binds`).
        self.private_binds: PrivateBinds | None = None
        if state_dir is not None:
            self.owner_labels[LABEL_STATE_DIR] = str(state_dir.resolve())
            self.private_binds = PrivateBinds(
                state_dir / "binds", lambda: engine_shares_mounts(engine_address())
            )

    @property
    def client(self) -> docker.DockerClient:
        """Connected on first use, so building a runtime never fails without an engine."""
        if self._client is None:
            try:
                self._client = docker.from_env(max_pool_size=POOL_SIZE)
            except docker.errors.DockerException as exc:
                raise RuntimeUnavailable(unreachable_message(engine_address(), exc)) from exc
        return self._client

    def ping(self) -> None:
        """Raise RuntimeUnavailable, saying how to start one, unless an engine answers."""
        try:
            self.client.ping()
        except ENGINE_ERRORS as exc:
            raise RuntimeUnavailable(unreachable_message(engine_address(), exc)) from exc

    def check(self) -> None:
        """`ping`, then remove the containers that runs which died left behind."""
        self.ping()
        self.orphans_removed = self.cleanup_orphans()
        if self.private_binds is not None and self.private_binds.usable():
            self.private_binds.sweep()

    def version(self) -> str:
        """The engine's version, for the runtime notice."""
        return str(self.client.version().get("Version", "unknown"))

    # -- one attempt ------------------------------------------------------------------------

    def _host_config(self, spec: AttemptSpec, binds: Sequence[Bind]) -> dict[str, Any]:
        mounts = [
            docker.types.Mount(b.target, str(b.source), type="bind", read_only=b.read_only)
            for b in binds
        ]
        options: dict[str, Any] = {
            "mounts": mounts,
            # A limit above the host's cores limits nothing: the host's count is the same limit.
            "nano_cpus": int(min(spec.cpu_cores, self.host_cores) * 1e9),
            "network_mode": self.network_mode,
            # An init as pid 1 lets the program get SIGTERM's default action on stop.
            "init": True,
        }
        if spec.memory_bytes:
            options["mem_limit"] = spec.memory_bytes
            options["memswap_limit"] = spec.memory_bytes
        return dict(self.client.api.create_host_config(**options))

    def _create(self, spec: AttemptSpec, image: str, binds: Sequence[Bind]) -> str:
        return str(
            self.client.api.create_container(
                image,
                command=list(spec.argv),
                environment=dict(spec.env),
                working_dir=WORKDIR,
                labels=labels_of(spec, self.owner_labels),
                host_config=self._host_config(spec, binds),
                detach=True,
            )["Id"]
        )

    def tell_preparation(self, listener: PreparationListener) -> None:
        """Tell `listener` as an image is pulled from the OSS-backed registry or loaded from
        an image file on first use (its supply does it)."""
        if isinstance(self.images, TellsPreparation):
            self.images.tell_preparation(listener)

    def image_problem(self, image: str, env: Mapping[str, str]) -> str | None:
        """Why an attempt of `image` could not start, found without bringing anything: a
        registry or file image its supply cannot bring, any other one missing from the
        engine (and --pull not given)."""
        return image_problem_in(self.client, image, env, self.images, self.pull, self.default_image)

    def executables(
        self, image: str, paths: Sequence[str], env: Mapping[str, str]
    ) -> frozenset[str] | None:
        """Which of `paths` are executable files in `image` (None when it cannot be told:
        not in the engine yet, or it has an ENTRYPOINT the command line is given to)."""
        return executables_in_image(self.client, image, paths, self.owner_labels)

    def start(self, spec: AttemptSpec) -> DockerHandle | AttemptOutcome:
        """Create, attach to and start the container; an outcome when it cannot start."""
        if not spec.image:
            return AttemptOutcome(None, "ImageNotFound", "No Docker image was given.")
        try:
            output = _Output.open(
                spec.stdout_path, spec.stderr_path, spec.memory_bytes, spec.argv[0]
            )
        except OSError as exc:
            return AttemptOutcome(None, START_FAILED, f"Cannot open the log files: {exc}")
        started = self._start_container(spec)
        if isinstance(started, AttemptOutcome):
            output.close()
            return started
        container_id, stream = started
        handle = DockerHandle(ref=container_id)
        self._find_cgroup(handle)
        handle.watcher = threading.Thread(
            target=self._watch,
            args=(handle, stream, output),
            name=f"docker-logs-{container_id[:12]}",
            daemon=True,
        )
        handle.watcher.start()
        return handle

    def _start_container(self, spec: AttemptSpec) -> tuple[str, _Stream] | AttemptOutcome:
        image = spec.image
        if self.images is not None:
            try:
                image = self.images.engine_image(self.client, spec.image, spec.env)
            except ImageProblem as exc:
                return AttemptOutcome(None, exc.code, exc.message)
        binds = placed_binds(spec)
        if self.private_binds is None or not self.private_binds.usable():
            return self._create_and_start(spec, image, binds)
        with contextlib.ExitStack() as pinned:
            try:
                name = _safe_name(
                    spec.job_id, spec.task_name, str(spec.instance_id), str(spec.attempt)
                )
                binds = pinned.enter_context(self.private_binds.pinned(binds, name))
            except Escape as exc:
                return escape_outcome(exc)
            except OSError as exc:
                return AttemptOutcome(None, START_FAILED, f"Could not bind a host path: {exc}")
            # The container has its own copy of each mount once started: unmounted after.
            return self._create_and_start(spec, image, binds)

    def _create_and_start(
        self, spec: AttemptSpec, image: str, binds: Sequence[Bind]
    ) -> tuple[str, _Stream] | AttemptOutcome:
        try:
            try:
                container_id = self._create(spec, image, binds)
            except docker.errors.ImageNotFound:
                if not self.pull:
                    return image_missing(spec.image, self.default_image)
                pulled = pull_image(self.client, spec.image, self.default_image)
                if pulled is not None:
                    return pulled
                container_id = self._create(spec, image, binds)
        except docker.errors.ImageNotFound:
            return image_missing(spec.image, self.default_image)
        except ENGINE_ERRORS as exc:
            return AttemptOutcome(None, START_FAILED, f"Docker refused the container: {exc}")
        try:
            # Attached before it starts, so no output is missed and the stream ends with it:
            # the engine subscribes before it answers. Its log is not asked for too: the
            # replay would repeat what the live stream also delivers (a line written twice).
            stream = self.client.api.attach(container_id, stream=True, logs=False, demux=True)
            self.client.api.start(container_id)
        except ENGINE_ERRORS as exc:
            self._remove(container_id)
            explanation = str(getattr(exc, "explanation", None) or exc)
            if _command_not_found(explanation):
                return AttemptOutcome(
                    exit_code=127,
                    error_code=COMMAND_NOT_FOUND,
                    error_message=f"{spec.argv[0]!r} was not found in the image {spec.image}: "
                    f"{explanation}",
                )
            return AttemptOutcome(None, START_FAILED, f"Docker could not start it: {explanation}")
        return container_id, stream

    def _watch(self, handle: DockerHandle, stream: _Stream, output: _Output | None) -> None:
        """Copy the output into the log files until the container ends, then record how."""
        stderr_head = b""
        try:
            if output is not None:
                stderr_head = _copy_demuxed(stream, output.out, output.err)
            exit_code = int(self.client.api.wait(handle.ref).get("StatusCode", -1))
            # Only a SIGKILLed container can have been killed for memory: ask only then.
            oom = exit_code == SIGKILL_EXIT and bool(
                self.client.api.inspect_container(handle.ref)["State"].get("OOMKilled")
            )
            handle.outcome = classify_exit(
                exit_code,
                oom,
                output.memory_bytes if output else 0,
                stderr_head,
                output.argv0 if output else "",
            )
        except OutputUnreadable as exc:
            handle.outcome = AttemptOutcome(None, INSTANCE_LOST, str(exc))
        except (*ENGINE_ERRORS, OSError) as exc:
            handle.outcome = AttemptOutcome(
                None, INSTANCE_LOST, f"Lost track of the container: {exc}"
            )
        finally:
            if output is not None:
                output.close()
            handle.done.set()

    def wait(self, handle: AttemptHandle, timeout: float | None) -> AttemptOutcome | None:
        """The outcome once the watcher recorded it (output copied, exit classified)."""
        assert isinstance(handle, DockerHandle)
        handle.done.wait(timeout)
        return handle.outcome if handle.done.is_set() else None

    def _find_cgroup(self, handle: DockerHandle) -> None:
        handle.pid, handle.cgroup = find_cgroup(self.client, handle.ref)

    def usage_probe(self, handle: object, memory_limit: int, cpu_cores: float) -> UsageProbe:
        """The container's own cgroup (its working set) when the engine runs on this host;
        its process tree where its cgroup is not visible; nothing (said so) for an engine
        elsewhere."""
        assert isinstance(handle, DockerHandle)
        return container_probe(handle.ref, handle.pid, handle.cgroup, memory_limit, cpu_cores)

    def stop(self, handle: AttemptHandle, grace: float) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds (Docker's own stop; blocks until ended)."""
        try:
            self.client.api.stop(handle.ref, timeout=math.ceil(grace))
        except docker.errors.NotFound:
            pass
        except ENGINE_ERRORS as exc:
            # The outcome then says the attempt did not end; the next run removes it.
            log.warning("could not stop container %s: %s", handle.ref[:12], exc)

    def terminate(self, handle: AttemptHandle) -> None:
        """SIGTERM alone (the container's init passes it on to the program); `stop` kills."""
        try:
            self.client.api.kill(handle.ref, signal="SIGTERM")
        except ENGINE_ERRORS as exc:  # already ended (409), or gone: stop() settles it
            log.debug("SIGTERM to container %s: %s", handle.ref[:12], exc)

    def release(self, handle: AttemptHandle, keep: bool) -> None:
        """Remove the container once its output is collected; rename it instead when `keep`."""
        if isinstance(handle, DockerHandle) and handle.watcher is not None:
            handle.watcher.join(LOG_DRAIN_SECONDS)
        if keep:
            try:
                info = self.client.api.inspect_container(handle.ref)
                labels = info["Config"]["Labels"] or {}
                name = _safe_name(
                    KEPT_PREFIX + labels.get(LABEL_JOB, ""),
                    labels.get(LABEL_TASK, ""),
                    labels.get(LABEL_INSTANCE, ""),
                    labels.get(LABEL_ATTEMPT, ""),
                    handle.ref[:12],
                )
                self.client.api.rename(handle.ref, name)
            except docker.errors.NotFound:
                pass
            return
        self._remove(handle.ref)

    def _remove(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass
        except ENGINE_ERRORS as exc:
            log.warning(
                "could not remove container %s (the next run will): %s", container_id[:12], exc
            )

    # -- recovery -----------------------------------------------------------------------------

    def cleanup_orphans(self) -> list[str]:
        """Remove containers of localbatch runs on this host whose owner process is gone,
        except those in `spare` and those `keeps_dead_run` keeps (listed in `orphans_kept`).
        """
        removed = []
        self.orphans_kept = []
        containers = self.client.api.containers(all=True, filters={"label": LABEL_OWNER_PID})
        for container in containers:
            labels = container.get("Labels") or {}
            names = container.get("Names") or []
            if any(n.lstrip("/").startswith(KEPT_PREFIX) for n in names):
                continue
            if labels.get(LABEL_OWNER_HOST) != self.owner_labels[LABEL_OWNER_HOST]:
                continue
            if owner_alive(labels) or container["Id"] in self.spare:
                continue
            if keeps_dead_run(self.keep_job, labels):
                self.orphans_kept.append(str(container["Id"]))
                continue
            self._remove(container["Id"])
            removed.append(str(container["Id"]))
        return removed

    def reattach(
        self,
        ref: str,
        stdout_path: Path | None = None,
        stderr_path: Path | None = None,
        *,
        begins_at: tuple[int, int] | None = None,
    ) -> DockerHandle | None:
        """A handle on an existing container (after a restart), or None if it is gone.

        Its output goes on into the given files. With `begins_at` (where this container's
        stdout and stderr begin in them), what it wrote while nobody watched is appended
        first, from the engine's log, whether it still runs or has ended: the files end up
        whole, or the outcome is InstanceLost when the engine cannot give all of it back.
        Without it, only what it prints from now on (the rest stays in `docker logs`, if
        the caller keeps the container).
        """
        try:
            info = self.client.api.inspect_container(ref)
        except docker.errors.NotFound:
            return None
        handle = DockerHandle(ref=str(info["Id"]))
        output = None
        stream: _Stream = iter(())
        if stdout_path is not None and stderr_path is not None:
            if begins_at is not None:
                output = _Output.open(stdout_path, stderr_path)
                held_out = file_size(stdout_path) - begins_at[0]
                held_err = file_size(stderr_path) - begins_at[1]
                stream = _skip(_logs_from_start(self.client, handle.ref), held_out, held_err)
            elif info["State"]["Running"]:
                output = _Output.open(stdout_path, stderr_path)
                stream = self.client.api.attach(handle.ref, stream=True, logs=False, demux=True)
        handle.watcher = threading.Thread(
            target=self._watch, args=(handle, stream, output), daemon=True
        )
        handle.watcher.start()
        return handle


def _logs_from_start(client: docker.DockerClient, ref: str) -> _Stream:
    """A container's whole output from its start, followed until it ends, as (stdout,
    stderr) chunks. Two `logs` streams: attach's replay (the only demultiplexed one) can miss
    or repeat what is written while it switches from the log to the live output.

    OutputUnreadable when the engine refuses or breaks off either stream. Ending quietly
    instead would pass a partial log off as whole: a container someone else is removing
    answers 409 to `logs` but still its exit code to `wait`.
    """
    chunks: queue.SimpleQueue[_Chunk | OutputUnreadable | None] = queue.SimpleQueue()

    def pump(stdout: bool) -> None:
        try:
            for chunk in client.api.logs(
                ref, stdout=stdout, stderr=not stdout, stream=True, follow=True
            ):
                chunks.put((chunk, None) if stdout else (None, chunk))
        except ENGINE_ERRORS as exc:
            why = getattr(exc, "explanation", None) or exc
            chunks.put(
                OutputUnreadable(
                    f"The Docker engine did not give back the {'stdout' if stdout else 'stderr'}"
                    f" the container wrote ({why}): its log files would be incomplete."
                )
            )
        finally:
            chunks.put(None)

    for stdout in (True, False):
        name = f"docker-logs-{ref[:12]}"
        threading.Thread(target=pump, args=(stdout,), name=name, daemon=True).start()
    ended = 0
    while ended < 2:
        item = chunks.get()
        if item is None:
            ended += 1
        elif isinstance(item, OutputUnreadable):
            raise item
        else:
            yield item


def _skip(stream: _Stream, stdout_bytes: int, stderr_bytes: int) -> _Stream:
    """The stream less its first bytes of stdout and of stderr (already in the files)."""
    left = [max(0, stdout_bytes), max(0, stderr_bytes)]
    for chunks in stream:
        kept: list[bytes | None] = []
        for index, chunk in enumerate(chunks):
            if chunk and left[index]:
                dropped = min(left[index], len(chunk))
                left[index] -= dropped
                chunk = chunk[dropped:]
            kept.append(chunk or None)
        yield kept[0], kept[1]


@dataclass
class _Output:
    """Where one container's output goes, and what classifying its end needs."""

    out: BinaryIO
    err: BinaryIO
    memory_bytes: int = 0
    argv0: str = ""

    @classmethod
    def open(
        cls, stdout_path: Path, stderr_path: Path, memory_bytes: int = 0, argv0: str = ""
    ) -> _Output:
        out = stdout_path.open("ab")
        try:
            err = stderr_path.open("ab")
        except OSError:
            out.close()
            raise
        return cls(out, err, memory_bytes, argv0)

    def close(self) -> None:
        self.out.close()
        self.err.close()


def _copy_demuxed(stream: _Stream, out: BinaryIO, err: BinaryIO) -> bytes:
    """Append the output to the files as it comes; answer the start of stderr."""
    head = b""
    for stdout_chunk, stderr_chunk in stream:
        if stdout_chunk:
            out.write(stdout_chunk)
            out.flush()
        if stderr_chunk:
            err.write(stderr_chunk)
            err.flush()
            if len(head) < STDERR_HEAD:
                head += stderr_chunk[: STDERR_HEAD - len(head)]
    return head


def classify_exit(
    exit_code: int, oom_killed: bool, limit: int, stderr_head: bytes, argv0: str
) -> AttemptOutcome:
    """The service's error code for an exit that is not the program's own choice."""
    if oom_killed:
        where = f" of {limit // 2**20} MiB" if limit else ""
        return AttemptOutcome(
            exit_code,
            OUT_OF_MEMORY,
            f"The program used more than its memory limit{where} and was killed.",
        )
    first = stderr_head.decode("utf-8", "replace").partition("\n")[0]
    if exit_code in (126, 127) and first.startswith(INIT_EXEC_FAILED):
        return AttemptOutcome(
            exit_code,
            COMMAND_NOT_FOUND,
            f"{argv0!r} could not be executed in the container: {first.partition('] ')[2]}",
        )
    return AttemptOutcome(exit_code)
