"""Every runtime localbatch can run instances on: its name, how it is created, what it can do.

The one table the rest of localbatch asks: the surfaces list `choices()` for `--runtime`,
the application layer creates a runtime with `select_runtime` (runtime/select.py), finds
where its instances reach this host's endpoints (`instance_host`) and whether it honours
images. Nothing outside `localbatch/runtime/` spells a runtime's name or imports its
module; a new runtime is one entry here (and its module beside this one).

Importing this module is cheap: a runtime's module (and its SDK) is imported only when the
runtime is created.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from localbatch.config import Config
from localbatch.runtime.base import Runtime, RuntimeUnavailable

if TYPE_CHECKING:
    from localbatch.runtime.docker import KeepJob

#: The choice that lets localbatch pick the first runtime that works here (`select_runtime`).
AUTO = "auto"
#: Where instances sharing this host's network namespace reach its endpoints.
LOOPBACK = "127.0.0.1"
#: Test hook of the fake runtime: each attempt behaves as this JSON `FakeStep` says
#: (e.g. {"hang": true} or {"exit_code": 1}).
FAKE_STEP_ENV = "LOCALBATCH_FAKE_STEP"


@dataclass(frozen=True)
class Capabilities:
    """What a runtime can do, so that callers ask this instead of its name."""

    #: Runs each attempt in the image its task names (Command.Docker.Image, ImageId);
    #: otherwise programs see this host's system files. (The process runtime does unless
    #: the config asks for the host's files: `uses_images(runtime)` answers per instance.)
    uses_images: bool
    #: Pulls an image it lacks from a registry when asked (`--pull`).
    pulls_images: bool
    #: Finds a running attempt again after the process that started it died
    #: (`reattach(ref, stdout, stderr)`), so that recovery adopts it instead of losing it.
    reattaches: bool
    #: Its instances see this host's file system: storage's needs (`storage.needs`) are
    #: placed as binds of host paths. A runtime on other machines places them on shared
    #: storage instead.
    shares_host_files: bool


@dataclass(frozen=True)
class RuntimeOptions:
    """What creating a runtime may use."""

    config: Config
    #: Spares the containers of dead runs whose jobs are unfinished (a runtime that
    #: reattaches removes the others at start-up).
    keep_job: KeepJob | None = None
    #: Why this runtime was picked instead of a preferred one, said in its notice.
    fallback_reason: str = ""


#: A checked runtime and the one line that tells the user what was chosen and why.
Created = tuple[Runtime, str]


@dataclass(frozen=True)
class RuntimeEntry:
    """One runtime as the registry declares it."""

    name: str
    #: What it runs instances in, for `--runtime` help ("Docker containers").
    summary: str
    capabilities: Capabilities
    #: Creates and checks the runtime; RuntimeUnavailable says what to install or start.
    create: Callable[[RuntimeOptions], Created]
    #: The address on this host that its instances reach, where the endpoints they use
    #: (the local OSS endpoint) must listen; RuntimeUnavailable when it cannot be known.
    instance_host: Callable[[], str]
    #: Offered only where test hooks are (`localbatch serve --runtime fake`).
    for_tests: bool = False


def _why(options: RuntimeOptions) -> str:
    return f"; {options.fallback_reason}" if options.fallback_reason else ""


def _docker(options: RuntimeOptions) -> Created:
    from localbatch.images.sources import ImageSources
    from localbatch.runtime.docker import DockerRuntime
    from localbatch.runtime.docker_images import EngineImages

    config = options.config
    runtime = DockerRuntime(
        default_image=config.default_docker_image,
        keep_job=options.keep_job,
        state_dir=config.state_dir,
        images=EngineImages(ImageSources(config)),
    )
    runtime.check()
    notice = f"runtime: docker (Docker Engine {runtime.version()}{_why(options)})"
    if runtime.orphans_removed:
        notice += f"; removed {len(runtime.orphans_removed)} container(s) left by dead runs"
    if runtime.orphans_kept:
        notice += (
            f"; kept {len(runtime.orphans_kept)} container(s) of dead runs whose jobs are "
            "unfinished (`localbatch serve` adopts them)"
        )
    return runtime, notice


def _docker_host() -> str:
    from localbatch.runtime.docker_network import docker_bridge_gateway

    return docker_bridge_gateway()


def _process(options: RuntimeOptions) -> Created:
    """The sandbox runtime; it runs programs in their image unless the config asks for the
    host's files (`[sandbox] files = "host"`)."""
    from localbatch.images.sources import ImageSources
    from localbatch.runtime.docker_images import docker_image_store
    from localbatch.runtime.process import ProcessRuntime
    from localbatch.runtime.rootfs import memory_directory

    config = options.config
    if config.sandbox_files == "host":
        runtime = ProcessRuntime()
    else:
        sources = ImageSources(config, engine_factory=docker_image_store)
        in_memory = memory_directory() if config.sandbox_layers == "memory" else None
        runtime = ProcessRuntime(images=sources, layers_dir=in_memory)
    runtime.check()
    return runtime, f"runtime: process ({runtime.describe()}{_why(options)})"


def _fake(options: RuntimeOptions) -> Created:
    from localbatch.runtime.fake import FakeRuntime, FakeStep

    step = FakeStep(**json.loads(os.environ.get(FAKE_STEP_ENV) or "{}"))
    return FakeRuntime(step), f"runtime: fake (nothing runs; every attempt: {step}{_why(options)})"


def _loopback() -> str:
    return LOOPBACK


#: In order of preference (`auto` tries them in this order).
RUNTIMES = (
    RuntimeEntry(
        name="docker",
        summary="Docker containers",
        capabilities=Capabilities(
            uses_images=True, pulls_images=True, reattaches=True, shares_host_files=True
        ),
        create=_docker,
        instance_host=_docker_host,
    ),
    RuntimeEntry(
        name="process",
        summary="the daemon-less sandbox",
        capabilities=Capabilities(
            uses_images=True, pulls_images=False, reattaches=False, shares_host_files=True
        ),
        create=_process,
        instance_host=_loopback,
    ),
    RuntimeEntry(
        name="fake",
        summary=(
            "a scripted in-memory runtime for tests "
            f"(runs nothing; each attempt as ${FAKE_STEP_ENV})"
        ),
        capabilities=Capabilities(
            uses_images=False, pulls_images=False, reattaches=False, shares_host_files=True
        ),
        create=_fake,
        instance_host=_loopback,
        for_tests=True,
    ),
)


def entries(*, for_tests: bool = False) -> tuple[RuntimeEntry, ...]:
    """The runtimes offered to users, and with `for_tests` also the test runtimes."""
    return tuple(entry for entry in RUNTIMES if for_tests or not entry.for_tests)


def choices(*, for_tests: bool = False) -> tuple[str, ...]:
    """What `--runtime` accepts: `auto`, then each runtime's name."""
    return (AUTO, *(entry.name for entry in entries(for_tests=for_tests)))


def lookup(name: str) -> RuntimeEntry:
    """The entry of a runtime by name; RuntimeUnavailable names the choices."""
    for entry in RUNTIMES:
        if entry.name == name:
            return entry
    raise RuntimeUnavailable(f"unknown runtime {name!r}: choose one of {', '.join(choices())}")


def instance_host(name: str) -> str:
    """Where instances of the named runtime reach this host's endpoints."""
    return lookup(name).instance_host()


def describe_choices(*, for_tests: bool = False) -> str:
    """`--runtime` help: what each offered runtime runs instances in, test runtimes named.

    "Docker containers or the daemon-less sandbox; fake is a scripted ... runtime for tests"
    """
    offered = " or ".join(entry.summary for entry in entries())
    tests = [f"{e.name} is {e.summary}" for e in entries(for_tests=for_tests) if e.for_tests]
    return "; ".join([offered, *tests])
