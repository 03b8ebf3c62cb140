"""The default local image, built without any registry.

These machines reach no container registry, so the image every BatchCompute image id maps
to by default (`DEFAULT_DOCKER_IMAGE`) is made here: debootstrap writes a minimal Debian
root file system from the machine's own apt mirror, and the Engine API imports it as an
image. Docker's image store is the cache: a second build is a no-op.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import docker
import docker.errors

from localbatch.config import DEFAULT_DOCKER_IMAGE
from localbatch.runtime.base import SERVICE_PATH

#: A connection to the Docker engine whose image store these functions read and fill.
EngineClient: TypeAlias = docker.DockerClient

#: Bump when the recipe changes; recorded on the image as the `localbatch.recipe` label.
RECIPE_VERSION = "1"
RECIPE_LABEL = "localbatch.recipe"
SUITE = "bookworm"
PACKAGES = ("python3", "python-is-python3")
FALLBACK_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
#: The PATH baked into the image.
IMAGE_PATH = SERVICE_PATH

Log = Callable[[str], None]


class ImageBuildError(Exception):
    """The default image could not be built; the message says what to do."""


@dataclass(frozen=True)
class ImageStatus:
    """One line of `localbatch images list`."""

    image_id: str
    docker_image: str
    present: bool


def _quiet(_: str) -> None:
    """Default progress sink: say nothing."""


def engine_client() -> EngineClient:
    """A client on a Docker engine that answers; RuntimeUnavailable says how to start one."""
    from localbatch.runtime.docker import DockerRuntime

    runtime = DockerRuntime()
    runtime.ping()
    return runtime.client


def image_present(client: docker.DockerClient, name: str) -> bool:
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


def build_default_image(
    client: docker.DockerClient,
    name: str = DEFAULT_DOCKER_IMAGE,
    *,
    mirror: str | None = None,
    workspace: Path | None = None,
    log: Log = _quiet,
) -> bool:
    """Build `name` from debootstrap unless it exists; True when it was built now."""
    if image_present(client, name):
        return False
    debootstrap = _check_can_build()
    repository, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "")
    changes = [
        f"LABEL {RECIPE_LABEL}={RECIPE_VERSION}",
        f"ENV PATH={IMAGE_PATH}",
        'CMD ["/bin/bash"]',
    ]
    with tempfile.TemporaryDirectory(prefix="localbatch-image-", dir=workspace) as tmp:
        rootfs = Path(tmp) / "rootfs"
        _debootstrap(debootstrap, rootfs, mirror or apt_mirror(), log)
        archive = Path(tmp) / "rootfs.tar"
        _tar_rootfs(rootfs, archive, log)
        shutil.rmtree(rootfs)
        log(f"importing as {name} ({archive.stat().st_size / 2**20:.0f} MiB)")
        try:
            client.api.import_image_from_file(
                str(archive), repository=repository, tag=tag or "latest", changes=changes
            )
        except docker.errors.APIError as exc:
            raise ImageBuildError(
                f"the Docker engine refused the import: {exc.explanation}"
            ) from exc
    if not image_present(client, name):
        raise ImageBuildError(f"the import finished but {name} is not in the engine's images")
    return True


def image_statuses(client: docker.DockerClient, mapping: dict[str, str]) -> list[ImageStatus]:
    """Whether each configured image exists locally (no pull, no registry)."""
    return [
        ImageStatus(image_id, docker_image, image_present(client, docker_image))
        for image_id, docker_image in sorted(mapping.items())
    ]


def how_to_get(name: str, *, default_image: str = DEFAULT_DOCKER_IMAGE) -> str:
    """The one sentence a user needs when `name` is missing from the engine."""
    if name == default_image:
        return "build it with `localbatch images build` (no registry needed)"
    return (
        f"load it (`docker load -i image.tar`), import a root file system (`docker import`), "
        f"or build it (`docker build -t {name} .`); or map the image id to another image "
        "in the [images] table of the config"
    )
