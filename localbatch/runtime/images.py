"""The default local image, built without any registry, in both runtimes' forms.

These machines reach no container registry, so the image every BatchCompute image id maps
to by default (`DEFAULT_DOCKER_IMAGE`) is made here: debootstrap writes a minimal Debian
root file system from the machine's own apt mirror; the Engine API imports it as an image
(when an engine answers) and the process runtime's cache keeps the same directory as its
root file system (no engine needed). Docker's image store and that cache are the caches:
a second build is a no-op.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import docker
import docker.errors

from localbatch.config import DEFAULT_DOCKER_IMAGE
from localbatch.runtime.base import SERVICE_PATH

if TYPE_CHECKING:
    from localbatch.images.store import RootfsStore
    from localbatch.runtime.image_supply import EngineImageStore

#: A connection to the Docker engine whose image store these functions read and fill.
EngineClient: TypeAlias = docker.DockerClient

#: Bump when the recipe changes; recorded on the image as the `localbatch.recipe` label.
RECIPE_VERSION = "2"
RECIPE_LABEL = "localbatch.recipe"
SUITE = "bookworm"
#: What img-ubuntu jobs expect beyond minbase's shell and core tools: `python` as well as
#: `python3`, `ps`/`top`/`kill` (procps), TLS roots, and the common archive formats.
PACKAGES = (
    "python3",
    "python-is-python3",
    "procps",
    "ca-certificates",
    "bzip2",
    "xz-utils",
    "unzip",
)
FALLBACK_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
#: The PATH baked into the image.
IMAGE_PATH = SERVICE_PATH

Log = Callable[[str], None]


class ImageBuildError(Exception):
    """The default image could not be built; the message says what to do."""


def _quiet(_: str) -> None:
    """Default progress sink: say nothing."""


def answering_engine() -> EngineClient | None:
    """A client of the Docker engine when one answers, else None (`images build` then makes
    the process runtime's form only)."""
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except (docker.errors.DockerException, OSError):
        return None
    return client


def engine_image_store() -> EngineImageStore:
    """The Docker engine's images for an image supplier, on an engine that answers (raises
    when none does); what `ImageSources(engine_factory=...)` is given outside the runtimes."""
    from localbatch.runtime.docker_images import docker_image_store

    return docker_image_store()


def image_present(client: EngineClient, name: str) -> bool:
    try:
        client.api.inspect_image(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def _source_files(roots: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        if root.is_dir():
            files.extend(sorted(p for p in root.iterdir() if p.suffix in (".list", ".sources")))
        elif root.is_file():
            files.append(root)
    return files


def _mirrors_in(path: Path) -> list[tuple[str, list[str]]]:
    """(uri, suites) pairs from one-line `.list` files and deb822 `.sources` files."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[tuple[str, list[str]]] = []
    if path.suffix == ".sources":
        for stanza in text.split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split():
                for uri in fields.get("uris", "").split():
                    found.append((uri, fields.get("suites", "").split()))
        return found
    for line in text.splitlines():
        words = [w for w in line.split() if not w.startswith("[")]
        if len(words) >= 3 and words[0] == "deb":
            found.append((words[1], [words[2]]))
    return found


def apt_mirror(roots: Iterable[Path] = APT_SOURCES) -> str:
    """The Debian mirror this machine's apt already uses for the suite (reachable by design)."""
    for path in _source_files(roots):
        for uri, suites in _mirrors_in(path):
            if SUITE in suites:
                return uri
    return FALLBACK_MIRROR


def _check_can_build() -> str:
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ImageBuildError(
            "debootstrap is missing: install it (`apt-get install debootstrap`), or map the "
            "image ids to an image you have in the [images] table of the config"
        )
    if os.geteuid() != 0:
        raise ImageBuildError(
            "building the default image runs debootstrap, which needs root: "
            "run `sudo localbatch images build`"
        )
    return debootstrap


#: debootstrap's progress lines ("I: Retrieving libc6 2.36-9", "I: Extracting ...") start so.
PROGRESS_PREFIX = "I: "
#: Lines of debootstrap's output kept for the error message when it fails.
FAILURE_TAIL = 15


def _debootstrap(debootstrap: str, rootfs: Path, mirror: str, log: Log) -> None:
    """Run debootstrap, relaying its progress lines as they come (it takes about a minute:
    silence would look like a hang)."""
    command = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(rootfs),
        mirror,
    ]
    log(f"debootstrap {SUITE} from {mirror} (about a minute)")
    tail: collections.deque[str] = collections.deque(maxlen=FAILURE_TAIL)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip()
            tail.append(line)
            if line.startswith(PROGRESS_PREFIX):
                log(f"debootstrap: {line[len(PROGRESS_PREFIX) :]}")
    if process.returncode != 0:
        raise ImageBuildError(
            f"debootstrap failed (exit {process.returncode}):\n" + "\n".join(tail)
        )
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / leftover).glob("*"):
            if entry.is_file():
                entry.unlink()


def _tar_rootfs(rootfs: Path, archive: Path, log: Log) -> None:
    log("packing the root file system")
    with tarfile.open(archive, "w") as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name)


@dataclass(frozen=True)
class Built:
    """Which forms of the default image `build_default_images` made now."""

    docker: bool
    rootfs: bool


def build_default_image(
    client: EngineClient,
    name: str = DEFAULT_DOCKER_IMAGE,
    *,
    mirror: str | None = None,
    workspace: Path | None = None,
    log: Log = _quiet,
) -> bool:
    """Build `name` into the engine from debootstrap unless it exists; True when built now."""
    return build_default_images(
        client, None, name, mirror=mirror, workspace=workspace, log=log
    ).docker


def build_default_images(
    client: EngineClient | None,
    store: RootfsStore | None,
    name: str = DEFAULT_DOCKER_IMAGE,
    *,
    mirror: str | None = None,
    workspace: Path | None = None,
    log: Log = _quiet,
) -> Built:
    """Both forms of the default image from one recipe: the engine's image (given a
    `client`) and the process runtime's root file system (given a `store`), each unless it
    exists. One debootstrap makes both; a root file system wanted beside an engine image
    that exists is unpacked from that image (the same bytes)."""
    need_docker = client is not None and not image_present(client, name)
    need_rootfs = store is not None and store.named(name) is None
    if store is not None and need_rootfs and not need_docker and client is not None:
        log(f"unpacking {name} from the Docker engine for the process runtime")
        _rootfs_from_engine(client, store, name)
        return Built(False, True)
    if not (need_docker or need_rootfs):
        return Built(False, False)
    debootstrap = _check_can_build()
    from localbatch.images.store import RunConfig

    if store is not None and need_rootfs:
        workspace = store.root / "tmp"  # the root file system is renamed into the cache
        workspace.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="localbatch-image-", dir=workspace) as tmp:
        rootfs = Path(tmp) / "rootfs"
        _debootstrap(debootstrap, rootfs, mirror or apt_mirror(), log)
        key = f"built-{uuid.uuid4().hex}"
        if client is not None and need_docker:
            key = _import(client, name, rootfs, Path(tmp) / "rootfs.tar", log)
        if store is not None and need_rootfs:
            log(f"keeping the root file system as {name} for the process runtime")
            source = f"debootstrap {SUITE}, recipe {RECIPE_VERSION} (localbatch images build)"
            store.adopt(key, source, rootfs, RunConfig({"PATH": IMAGE_PATH}))
            store.record_name(name, key)
    return Built(need_docker, need_rootfs)


def _import(client: EngineClient, name: str, rootfs: Path, archive: Path, log: Log) -> str:
    """Import `rootfs` into the engine as `name`; the new image's id without "sha256:"."""
    repository, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "")
    changes = [
        f"LABEL {RECIPE_LABEL}={RECIPE_VERSION}",
        f"ENV PATH={IMAGE_PATH}",
        'CMD ["/bin/bash"]',
    ]
    _tar_rootfs(rootfs, archive, log)
    log(f"importing as {name} ({archive.stat().st_size / 2**20:.0f} MiB)")
    try:
        client.api.import_image_from_file(
            str(archive), repository=repository, tag=tag or "latest", changes=changes
        )
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"the Docker engine refused the import: {exc.explanation}") from exc
    finally:
        archive.unlink(missing_ok=True)
    try:
        image_id = str(client.api.inspect_image(name)["Id"])
    except docker.errors.ImageNotFound:
        raise ImageBuildError(
            f"the import finished but {name} is not in the engine's images"
        ) from None
    return image_id.removeprefix("sha256:")


def _rootfs_from_engine(client: EngineClient, store: RootfsStore, name: str) -> None:
    """The engine's `name` unpacked into the cache and recorded under its name."""
    from localbatch.images.unpack import unpack_image
    from localbatch.runtime.image_supply import ImageProblem

    image_id = str(client.api.inspect_image(name)["Id"])
    key = image_id.removeprefix("sha256:")
    try:
        store.prepare(
            key,
            f"Docker engine image {name}",
            lambda work: unpack_image(f"docker-daemon:{image_id}", work, f"image {name}"),
        )
    except ImageProblem as exc:
        raise ImageBuildError(str(exc)) from exc
    store.record_name(name, key)


def how_to_get(name: str, *, default_image: str = DEFAULT_DOCKER_IMAGE) -> str:
    """The one sentence a user needs when `name` is missing (from the engine, or from
    every place the process runtime looks)."""
    if name == default_image:
        return "build it with `localbatch images build` (no registry needed)"
    if name.startswith("localhost:5000/"):
        return (
            "images named localhost:5000/... come from the registry stored at the OSS path "
            "in the task's BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH (EnvVars), which is not set"
        )
    return (
        f"load it (`docker load -i image.tar`), import a root file system (`docker import`), "
        f"or build it (`docker build -t {name} .`); or name an image file for it in the "
        "[image_sources] table of the config; or map the image id to another image in the "
        "[images] table"
    )
