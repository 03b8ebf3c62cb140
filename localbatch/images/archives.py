"""Images kept as files: a `docker save` archive, an OCI layout directory or an OCI archive.

The config's `[image_sources]` names one for an image name, in skopeo's transport syntax
(`docker-archive:/data/worker.tar`, `oci:/data/layout:worker`, `oci-archive:/data/w.tar`).
Which image such a file holds (its config digest, the cache key) is read here directly
from its index, without a tool, and remembered while the file is unchanged, so that a
cached image costs an attempt a `stat`.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localbatch.config import ImageFile
from localbatch.images.reference import DIGEST
from localbatch.images.tree import DOCKER_LIST, OCI_INDEX, host_platform
from localbatch.runtime.image_supply import ImageProblem

REF_ANNOTATION = "org.opencontainers.image.ref.name"
#: No index, manifest or config is this big.
SMALL = 4 * 2**20


@dataclass(frozen=True)
class ImageConfig:
    """Which image a file holds: its config's digest, and the config itself."""

    digest: str
    config: dict[str, Any]

    @property
    def key(self) -> str:
        return self.digest.removeprefix("sha256:")


_memo: dict[tuple[str, int, int, str], ImageConfig] = {}
_memo_lock = threading.Lock()


def image_config(source: ImageFile) -> ImageConfig:
    """The config of the image in `source`; ImageProblem when the file does not hold one."""
    try:
        status = source.path.stat()
    except OSError as exc:
        raise ImageProblem(f"the image file {source} cannot be read: {exc.strerror}") from exc
    memo_key = (str(source), status.st_mtime_ns, status.st_size, source.transport)
    with _memo_lock:
        found = _memo.get(memo_key)
    if found is not None:
        return found
    try:
        if source.transport == "docker-archive":
            config = _docker_archive(source)
        elif source.transport == "oci":
            config = layout_config(directory_reader(source.path), source.ref, str(source))
        else:
            with tarfile.open(source.path) as tar:
                config = layout_config(_tar_reader(tar), source.ref, str(source))
    except (OSError, tarfile.TarError, ValueError, KeyError) as exc:
        raise ImageProblem(f"the image file {source} cannot be read: {exc}") from exc
    with _memo_lock:
        _memo[memo_key] = config
    return config


#: Reads a member of an image file by its relative path; KeyError when absent.
Reader = Callable[[str], bytes]


def directory_reader(root: Path) -> Reader:
    def read(relative: str) -> bytes:
        path = root / relative
        if not path.is_file():
            raise KeyError(f"{relative} is missing")
        if path.stat().st_size > SMALL:
            raise ValueError(f"{relative} is too big for an index, manifest or config")
        return path.read_bytes()

    return read


def _tar_reader(tar: tarfile.TarFile) -> Reader:
    def read(relative: str) -> bytes:
        try:
            member = tar.getmember(relative)
        except KeyError:
            member = tar.getmember(f"./{relative}")
        if not member.isfile() or member.size > SMALL:
            raise ValueError(f"{relative} is not a small regular file")
        handle = tar.extractfile(member)
        assert handle is not None
        return handle.read()

    return read


def _json(data: bytes, what: str) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def _blob(read: Reader, digest: str) -> bytes:
    if not DIGEST.match(digest):
        raise ValueError(f"{digest!r} is not a sha256 digest")
    data = read(f"blobs/sha256/{digest[7:]}")
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"blob {digest} does not match its digest")
    return data


def layout_config(read: Reader, ref: str, where: str) -> ImageConfig:
    """The config of the image `ref` (or the only one) of an OCI layout."""
    index = _json(read("index.json"), "index.json")
    entries = [e for e in index.get("manifests") or [] if isinstance(e, dict)]
    if ref:
        entries = [e for e in entries if (e.get("annotations") or {}).get(REF_ANNOTATION) == ref]
    if len(entries) != 1:
        names = [str((e.get("annotations") or {}).get(REF_ANNOTATION, "?")) for e in entries]
        raise ValueError(
            f"{where}: name one image of the layout ({', '.join(names) or 'none'} there)"
            if not ref or entries
            else f"{where}: no image {ref!r} in the layout"
        )
    manifest = _json(_blob(read, str(entries[0].get("digest", ""))), "the manifest")
    if manifest.get("mediaType") in (OCI_INDEX, DOCKER_LIST) or "manifests" in manifest:
        wanted = host_platform()
        for entry in manifest.get("manifests") or []:
            platform_ = entry.get("platform") or {}
            if (platform_.get("os"), platform_.get("architecture")) == wanted:
                manifest = _json(_blob(read, str(entry.get("digest", ""))), "the manifest")
                break
        else:
            raise ValueError(f"{where}: no {'/'.join(wanted)} image in the layout's index")
    digest = str((manifest.get("config") or {}).get("digest", ""))
    return ImageConfig(digest, _json(_blob(read, digest), "the image config"))


def _docker_archive(source: ImageFile) -> ImageConfig:
    with tarfile.open(source.path) as tar:
        read = _tar_reader(tar)
        entries = json.loads(read("manifest.json"))
        if not isinstance(entries, list):
            raise ValueError("manifest.json is not a list")
        if source.ref:
            entries = [e for e in entries if source.ref in (e.get("RepoTags") or [])]
        if len(entries) != 1:
            tags = [t for e in entries for t in e.get("RepoTags") or []]
            raise ValueError(
                f"name one image of the archive ({', '.join(tags) or 'none'} there)"
                if not source.ref or entries
                else f"no image {source.ref!r} in the archive"
            )
        data = read(str(entries[0].get("Config", "")))
    return ImageConfig("sha256:" + hashlib.sha256(data).hexdigest(), _json(data, "the config"))
