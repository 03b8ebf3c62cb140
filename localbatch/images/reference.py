"""Image names as the distribution registry reads them, and the OSS-backed registry's names.

A job's image name is hostile input: it becomes a path in a registry tree and an argument
of skopeo and of the Engine API, so it is checked against the registry's own grammar
(github.com/distribution/reference) before anything uses it. Names the service's VM pulls
from the registry it serves from OSS are `localhost:5000/<name>[:tag]`, with the OSS path
in `BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH` (the official CLI's `--docker name@oss://...`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from localbatch.plan.node_choice import REGISTRY_HOST, REGISTRY_OSS_VAR
from localbatch.runtime.image_supply import ImageProblem
from localbatch.storage.errors import StorageError
from localbatch.storage.paths import parse_oss_path

DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
#: The registry refuses longer names.
MAX_NAME = 255


@dataclass(frozen=True)
class ImageName:
    """A checked image reference: `[domain/]path[:tag][@digest]`."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def reference(self) -> str:
        """What a registry is asked for: the digest, else the tag (`latest` when none)."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        text = self.repository + (f":{self.tag}" if self.tag else "")
        return text + (f"@{self.digest}" if self.digest else "")


def parse_image(text: str) -> ImageName:
    """Split and check an image reference; ValueError says what is wrong with it."""
    if not text or text != text.strip() or any(c.isspace() for c in text):
        raise ValueError(f"{text!r} is not an image name (empty, or has white space)")
    name, _, digest = text.partition("@")
    if digest and not DIGEST.match(digest):
        raise ValueError(f"{text!r}: the digest must be sha256: and 64 hex digits")
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
        if not _TAG.match(tag):
            raise ValueError(f"{text!r}: {tag!r} is not a valid tag")
    domain, path = "", name
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
        if not _DOMAIN.match(domain):
            raise ValueError(f"{text!r}: {domain!r} is not a valid registry host")
    if not _PATH.match(path):
        raise ValueError(
            f"{text!r}: {path!r} is not a valid repository name (lower-case letters, digits "
            "and single separators '.', '_', '__' or '-', components joined by '/')"
        )
    if len(name) > MAX_NAME:
        raise ValueError(f"{text!r}: the name is longer than {MAX_NAME} characters")
    return ImageName(domain, path, tag, digest)


@dataclass(frozen=True)
class RegistryImage:
    """An image the OSS-backed registry serves: as the job names it, and where it lives."""

    image: str
    repository: str
    reference: str
    #: The OSS path of the registry's storage, as given (checked), with a trailing '/'.
    oss_path: str

    @property
    def tag(self) -> str:
        return "" if DIGEST.match(self.reference) else self.reference


def registry_oss_path(value: str, image: str) -> str:
    """The registry's OSS path checked and ending with '/'; ImageProblem when unusable."""
    folder = value if value.endswith("/") else value + "/"
    try:
        parse_oss_path(folder)
    except StorageError as exc:
        raise ImageProblem(f"image {image}: {REGISTRY_OSS_VAR}={value!r}: {exc.message}") from exc
    return folder


def registry_image(image: str, env: Mapping[str, str]) -> RegistryImage | None:
    """The OSS-backed registry image `image` names under `env`, or None when it is not one
    (not `localhost:5000/...`, or no registry OSS path in the environment)."""
    if not image.startswith(REGISTRY_HOST + "/") or not env.get(REGISTRY_OSS_VAR):
        return None
    try:
        name = parse_image(image)
    except ValueError as exc:
        raise ImageProblem(str(exc)) from exc
    oss_path = registry_oss_path(env[REGISTRY_OSS_VAR], image)
    return RegistryImage(image, name.path, name.reference, oss_path)


@dataclass(frozen=True)
class PushTarget:
    """What `localbatch images push` puts where: the repository and tag in the registry
    stored at `oss_path`, and the name a job gives it."""

    repository: str
    tag: str
    oss_path: str

    @property
    def job_image(self) -> str:
        return f"{REGISTRY_HOST}/{self.repository}:{self.tag}"


def push_target(image: str, oss_path: str | None) -> tuple[str, PushTarget]:
    """(the local image, its target) from `IMAGE oss://...` or the official CLI's
    `IMAGE@oss://...`; ValueError says what is wrong. The repository is the image's path
    without its registry host, as the CLI names it (`localhost:5000/<name>`)."""
    if oss_path is None:
        local, marker, rest = image.partition("@oss://")
        if not marker:
            raise ValueError(
                f"{image!r}: give the OSS path, as `IMAGE oss://bucket/path/` or "
                "`IMAGE@oss://bucket/path/`"
            )
        image, oss_path = local, "oss://" + rest
    name = parse_image(image)
    if name.digest and not name.tag:
        raise ValueError(f"{image!r}: a registry stores tags; name the image by a tag")
    folder = oss_path if oss_path.endswith("/") else oss_path + "/"
    try:
        parse_oss_path(folder)
    except StorageError as exc:
        raise ValueError(exc.message) from exc
    return image, PushTarget(name.path, name.tag or DEFAULT_TAG, folder)
