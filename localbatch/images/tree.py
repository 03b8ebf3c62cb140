"""Reading the storage tree a distribution registry writes (`docker/registry/v2/...`).

The registry's filesystem and OSS storage drivers write the same tree under their root, so
an OSS path that a registry wrote (on real OSS, copied here, or written here) is read as it
is. localbatch reads it itself only to answer three questions before the real registry
serves it: which manifest a tag names (the cache key), which files serving that image
needs (what to copy from a remote OSS path), and, when the answer is no, exactly what is
missing: the repository, the tag, or a blob. The tree is not trusted: every link is checked
to be a digest, every small blob is checked against its digest, every big one's size.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localbatch.images.reference import DIGEST

V2 = "docker/registry/v2"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
#: Manifests and image configs are read whole; nothing that size is an image's layer.
SMALL_BLOB = 4 * 2**20
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


class RegistryTreeError(Exception):
    """The image cannot be served from this tree; the message names the image, the OSS path
    and what is missing."""


#: Reads a file of the tree (a '/'-path under its root): its bytes, or None when absent.
ReadFile = Callable[[str], bytes | None]
#: Its size, or None when absent.
FileSize = Callable[[str], int | None]
#: The names directly in a folder of the tree ([] when absent).
ListDir = Callable[[str], list[str]]


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    what: str

    @property
    def path(self) -> str:
        return blob_path(self.digest)


@dataclass(frozen=True)
class ResolvedImage:
    """One image of the tree: its manifest, its config's digest (the Docker image id, the
    cache key) and every file of the tree that serving it reads."""

    repository: str
    reference: str
    manifest_digest: str
    config_digest: str
    #: The config and the layers (with their sizes), for copying and checks.
    blobs: tuple[Blob, ...]
    #: The manifests read (a list's and the chosen platform's), as blobs.
    manifests: tuple[Blob, ...]
    #: Link files serving it reads ('/'-paths under the tree root); they may change.
    links: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.config_digest.removeprefix("sha256:")


def blob_path(digest: str) -> str:
    hexdigest = digest.removeprefix("sha256:")
    return f"{V2}/blobs/sha256/{hexdigest[:2]}/{hexdigest}/data"


def host_platform() -> tuple[str, str]:
    machine = platform.machine()
    return "linux", _ARCH.get(machine, machine)


class RegistryTree:
    """A registry storage tree reached through three file functions, named by `where` (the
    OSS path) in every message."""

    def __init__(self, read: ReadFile, size: FileSize, listdir: ListDir, where: str) -> None:
        self._read = read
        self._size = size
        self._listdir = listdir
        self.where = where

    def resolve(self, image: str, repository: str, reference: str) -> ResolvedImage:
        """The image `repository:reference` (a tag or a digest) as this tree stores it."""
        repo = f"{V2}/repositories/{repository}"
        if not self._listdir(f"{repo}/_manifests"):
            self._no_repository(image, repository)
        links: list[str] = []
        if DIGEST.match(reference):
            digest = reference
            revision = f"{repo}/_manifests/revisions/sha256/{digest[7:]}/link"
            if self._link(revision, image) != digest:
                raise RegistryTreeError(
                    f"image {image}: repository {repository!r} in the registry at {self.where} "
                    f"has no manifest {digest}"
                )
            links.append(revision)
        else:
            tag_link = f"{repo}/_manifests/tags/{reference}/current/link"
            found = self._link(tag_link, image)
            if found is None:
                tags = sorted(self._listdir(f"{repo}/_manifests/tags"))
                raise RegistryTreeError(
                    f"image {image}: no tag {reference!r} in repository {repository!r} of the "
                    f"registry at {self.where} (tags there: {', '.join(tags) or 'none'})"
                )
            digest = found
            links.append(tag_link)
        manifests: list[Blob] = []
        manifest, media_type = self._manifest(image, repo, digest, "manifest", manifests, links)
        if media_type in (DOCKER_LIST, OCI_INDEX):
            child = self._platform_child(image, digest, manifest)
            manifest, media_type = self._manifest(
                image, repo, child, "platform manifest", manifests, links
            )
        blobs = self._blobs(image, digest, manifest)
        for blob in blobs:
            layer_link = f"{repo}/_layers/sha256/{blob.digest[7:]}/link"
            if self._link(layer_link, image) != blob.digest:
                raise RegistryTreeError(
                    f"image {image}: the registry at {self.where} does not link {blob.what} "
                    f"{blob.digest} to repository {repository!r} (missing {layer_link})"
                )
            links.append(layer_link)
            self._check_blob(image, blob)
        return ResolvedImage(
            repository,
            reference,
            digest,
            blobs[0].digest,
            tuple(blobs),
            tuple(manifests),
            tuple(links),
        )

    def _no_repository(self, image: str, repository: str) -> None:
        if not self._listdir(V2):
            raise RegistryTreeError(
                f"image {image}: no registry storage at {self.where} (nothing under "
                f"{self.where}{V2}/; push the image there first: `localbatch images push`)"
            )
        known = self._repositories()
        raise RegistryTreeError(
            f"image {image}: no repository {repository!r} in the registry at {self.where} "
            f"(repositories there: {', '.join(known) or 'none'})"
        )

    def _repositories(self, prefix: str = "", depth: int = 0) -> list[str]:
        """Repository names of the tree (a name may have several '/'-components)."""
        found: list[str] = []
        base = f"{V2}/repositories" + (f"/{prefix}" if prefix else "")
        for entry in sorted(self._listdir(base)):
            if entry.startswith("_"):
                continue
            name = f"{prefix}/{entry}" if prefix else entry
            children = self._listdir(f"{base}/{entry}")
            if "_manifests" in children:
                found.append(name)
            elif depth < 4:
                found += self._repositories(name, depth + 1)
        return found

    def _link(self, path: str, image: str) -> str | None:
        data = self._read(path)
        if data is None:
            return None
        text = data.decode("ascii", "replace").strip()
        if not DIGEST.match(text):
            raise RegistryTreeError(
                f"image {image}: {self.where}{path} does not hold a sha256 digest "
                "(a broken registry tree)"
            )
        return text

    def _manifest(
        self,
        image: str,
        repo: str,
        digest: str,
        what: str,
        manifests: list[Blob],
        links: list[str],
    ) -> tuple[dict[str, Any], str]:
        revision = f"{repo}/_manifests/revisions/sha256/{digest[7:]}/link"
        if revision not in links:
            if self._link(revision, image) != digest:
                raise RegistryTreeError(
                    f"image {image}: the registry at {self.where} has no revision link for "
                    f"its {what} {digest} (missing {revision})"
                )
            links.append(revision)
        data = self._small_blob(image, digest, what)
        manifests.append(Blob(digest, len(data), what))
        try:
            manifest = json.loads(data)
        except ValueError:
            manifest = None
        if not isinstance(manifest, dict):
            raise RegistryTreeError(
                f"image {image}: its {what} {digest} in {self.where} is not a JSON object"
            )
        media_type = str(manifest.get("mediaType", ""))
        if not media_type and manifest.get("schemaVersion") == 2:
            media_type = OCI_INDEX if "manifests" in manifest else OCI_MANIFEST
        if media_type in SCHEMA1 or manifest.get("schemaVersion") == 1:
            raise RegistryTreeError(
                f"image {image}: its manifest in {self.where} has the old schema 1 format, "
                "which localbatch does not pull; push the image again with a current Docker"
            )
        if media_type not in (DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX):
            raise RegistryTreeError(
                f"image {image}: its {what} in {self.where} has the unknown type {media_type!r}"
            )
        return manifest, media_type

    def _platform_child(self, image: str, digest: str, index: dict[str, Any]) -> str:
        wanted = host_platform()
        offered: list[str] = []
        for entry in index.get("manifests") or []:
            if not isinstance(entry, dict):
                continue
            platform_ = entry.get("platform") or {}
            pair = (str(platform_.get("os", "")), str(platform_.get("architecture", "")))
            offered.append("/".join(pair))
            child = str(entry.get("digest", ""))
            if pair == wanted and DIGEST.match(child):
                return child
        raise RegistryTreeError(
            f"image {image}: its manifest list {digest} in {self.where} has no "
            f"{'/'.join(wanted)} image (it has: {', '.join(offered) or 'none'})"
        )

    def _blobs(self, image: str, digest: str, manifest: dict[str, Any]) -> list[Blob]:
        config = manifest.get("config")
        layers = manifest.get("layers")
        if not isinstance(config, dict) or not isinstance(layers, list):
            raise RegistryTreeError(
                f"image {image}: its manifest {digest} in {self.where} has no config or layers"
            )
        entries = [(config, "config")]
        entries += [(layer, f"layer {n} of {len(layers)}") for n, layer in enumerate(layers, 1)]
        blobs = []
        for entry, what in entries:
            blob_digest = str(entry.get("digest", "")) if isinstance(entry, dict) else ""
            size = entry.get("size") if isinstance(entry, dict) else None
            if not DIGEST.match(blob_digest) or not isinstance(size, int) or size < 0:
                raise RegistryTreeError(
                    f"image {image}: its manifest {digest} in {self.where} names its {what} "
                    "without a sha256 digest and size"
                )
            blobs.append(Blob(blob_digest, size, what))
        return blobs

    def _small_blob(self, image: str, digest: str, what: str) -> bytes:
        path = blob_path(digest)
        size = self._size(path)
        if size is None:
            self._missing_blob(image, digest, what, path)
        if size is not None and size > SMALL_BLOB:
            raise RegistryTreeError(
                f"image {image}: its {what} {digest} in {self.where} is {size} bytes; "
                "a manifest or config is never that big (a broken registry tree)"
            )
        data = self._read(path)
        if data is None:
            self._missing_blob(image, digest, what, path)
        assert data is not None
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise RegistryTreeError(
                f"image {image}: broken blob: its {what} {digest} at {self.where}{path} does "
                "not match its digest"
            )
        return data

    def _check_blob(self, image: str, blob: Blob) -> None:
        if blob.what == "config":
            self._small_blob(image, blob.digest, blob.what)
            return
        size = self._size(blob.path)
        if size is None:
            self._missing_blob(image, blob.digest, blob.what, blob.path)
        if size != blob.size:
            raise RegistryTreeError(
                f"image {image}: broken blob: its {blob.what} {blob.digest} at "
                f"{self.where}{blob.path} is {size} bytes, its manifest says {blob.size}"
            )

    def _missing_blob(self, image: str, digest: str, what: str, path: str) -> None:
        raise RegistryTreeError(
            f"image {image}: broken blob: its {what} {digest} is missing from the registry at "
            f"{self.where} (no {path})"
        )
